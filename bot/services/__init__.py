"""Services: everything the bot does, with no Telegram objects in sight."""
