"""The gettext catalogues (`*/LC_MESSAGES/messages.po`), shipped as package data so that an
installed bot finds them wherever it runs. `bot.i18n` reads the .po files themselves."""
