"""`python -m bot`: check settings, migrate, run (polling unless WEBHOOK_URL is set)."""

from __future__ import annotations

import sys

from bot.settings import ConfigError, load_settings


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

    from bot.app import ALLOWED_UPDATES, build_application
    from bot.i18n import CatalogueMissing
    from bot.logs import setup_logging

    setup_logging()
    try:
        application = build_application(settings)
    except CatalogueMissing as error:
        print(str(error), file=sys.stderr)
        return 2
    application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
