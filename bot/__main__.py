"""`python -m bot`: check settings, migrate, run (polling unless WEBHOOK_URL is set)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from bot.settings import ConfigError, load_settings

if TYPE_CHECKING:
    from bot.app import QorgauApplication


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        for line in error.lines:
            print(f"Setting {line}", file=sys.stderr)
        print(
            "Copy .env.example to .env, fill in the settings above, and start again.",
            file=sys.stderr,
        )
        return 2

    from bot.app import build_application
    from bot.i18n import CatalogueMissing
    from bot.logs import setup_logging

    setup_logging()
    try:
        application = build_application(settings)
    except CatalogueMissing as error:
        print(str(error), file=sys.stderr)
        return 2
    asyncio.run(serve(application))
    return 0


async def serve(application: QorgauApplication) -> None:
    """Webhook mode when WEBHOOK_URL is set, polling otherwise; SIGINT/SIGTERM stop it."""
    from bot.polling import poll
    from bot.web import serve_webhook

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if application.services.settings.webhook_url:
        await serve_webhook(application, stop)
    else:
        await poll(application, stop)


if __name__ == "__main__":
    sys.exit(main())
