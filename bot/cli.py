"""`python -m bot [run|check|migrate|backup|restore|health]`: the operator's command line.

Every command reads the same settings as the bot (environment, then `.env` in the working
directory). Exit codes: 0 fine, 1 a problem found (check, health), 2 a setting that cannot
work (one line naming it and the fix; the token is never printed).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bot.app import QorgauApplication

CONFIG_ERROR = 2
log = logging.getLogger("qorgau")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m bot",
        description="Qorgau help-line bot. Settings come from the environment and .env "
        "(see .env.example and docs/operations.md).",
    )
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot (the default): polling, or webhook mode")
    commands.add_parser(
        "check",
        help="check the settings, the database, Telegram and the staff chats "
        "(the bot's rights in each); exit 1 on a problem",
    )
    commands.add_parser("migrate", help="bring the database schema to the newest revision")
    backup = commands.add_parser(
        "backup", help="copy the database to a file (SQLite; prints the pg_dump command)"
    )
    backup.add_argument("file", type=Path, help="where to write the copy")
    restore = commands.add_parser(
        "restore",
        help="replace the database with a copy (SQLite, bot stopped; or pg_restore)",
    )
    restore.add_argument("file", type=Path, help="the copy made by `backup`")
    commands.add_parser(
        "health", help="exit 0 when the running bot is healthy (Docker's HEALTHCHECK)"
    )
    return main


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        for line in error.lines:
            print(f"Setting {line}", file=sys.stderr)
        if any(line.endswith(" is missing") for line in error.lines):  # a first start
            print(
                "Copy .env.example to .env, fill in the settings above, and start again.",
                file=sys.stderr,
            )
        return CONFIG_ERROR

    from bot.logs import setup_logging
    from bot.startup import SetupProblem

    setup_logging(secrets=[settings.bot_token.get_secret_value()])
    command = arguments.command or "run"
    try:
        if command in ("backup", "restore"):
            from bot import backup

            action = backup.backup if command == "backup" else backup.restore
            return action(settings, arguments.file)
        return asyncio.run(COMMANDS[command](settings))
    except SetupProblem as problem:
        print(str(problem), file=sys.stderr)
        return CONFIG_ERROR
    except Exception:  # unexpected: told through the log, where the token is redacted
        log.exception("qorgau stopped on an unexpected error")
        return 1


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT (Ctrl-C) or SIGTERM: whatever waits on it stops at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def run(settings: Settings) -> int:
    """Webhook mode when WEBHOOK_URL is set, polling otherwise; SIGINT/SIGTERM stop it."""
    from bot.compose import build_application
    from bot.i18n import CatalogueMissing
    from bot.startup import SetupProblem, Stopped, open_engine, prepare_database, reach_telegram

    stop = stop_on_signals()
    engine = open_engine(settings.database_url)  # a bad URL says so before anything starts
    await engine.dispose()
    try:
        application = build_application(settings)
    except CatalogueMissing as error:
        raise SetupProblem(str(error)) from None
    try:
        # Each mistake alone on the screen: the database opened, the token tried, and only
        # then the migrations' log.
        await prepare_database(application.services.engine, only_open=True)
        await reach_telegram(application.bot, settings.telegram_api_url, stop)
        await prepare_database(application.services.engine)
    except (Stopped, SetupProblem) as error:
        await close_early(application)
        if isinstance(error, Stopped):
            return 0
        raise
    if not settings.admin_ids:
        log.warning("ADMIN_IDS is empty: nobody can invite staff; see README, Set-up")
    await serve(application, stop)
    return 0


async def close_early(application: QorgauApplication) -> None:
    """Stopping before the bot was up: PTB's shutdown does nothing for a bot whose getMe
    never succeeded, so its HTTP sessions are closed here (PTB keeps the pair in _request;
    no public way to reach the one for getUpdates)."""
    for request in application.bot._request:
        await request.shutdown()
    await application.services.engine.dispose()


async def serve(application: QorgauApplication, stop: asyncio.Event) -> None:
    from bot.polling import poll
    from bot.web import serve_webhook

    if application.services.settings.webhook_url:
        await serve_webhook(application, stop)
    else:
        await poll(application, stop)


async def migrate(settings: Settings) -> int:
    from bot.startup import open_engine, prepare_database

    engine = open_engine(settings.database_url)
    try:
        await prepare_database(engine)
    finally:
        await engine.dispose()
    print("database: migrated to the newest revision")
    return 0


async def check(settings: Settings) -> int:
    from bot.check import report

    return await report(settings, print)


async def health(settings: Settings) -> int:
    from bot.check import healthy

    return 0 if await healthy(settings) else 1


COMMANDS: dict[str, Callable[[Settings], Coroutine[Any, Any, int]]] = {
    "run": run,
    "check": check,
    "migrate": migrate,
    "health": health,
}
