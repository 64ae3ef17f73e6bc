"""`python -m bot`: the command line (bot/cli.py); with no command it runs the bot."""

from __future__ import annotations

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
