"""Before the bot serves anyone: the database opened and migrated, Telegram reached and the
token accepted. A setting that cannot work is one line naming it and the fix (SetupProblem,
exit code 2), never a traceback, and never the token."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.db import make_engine, migrate, startup_lock

T = TypeVar("T")
log = logging.getLogger("qorgau.startup")
DATABASE_EXAMPLES = "sqlite+aiosqlite:///helpline.db or postgresql+asyncpg://user:password@host/db"
# A database that has not answered by then will not: say so instead of hanging.
DATABASE_WAIT_SECONDS = 20.0
LONGEST_TELEGRAM_WAIT = 30.0


class SetupProblem(Exception):
    """A setting that cannot work; str() is the one line to show."""


class Stopped(Exception):
    """Ctrl-C or SIGTERM came while waiting."""


def open_engine(url: str) -> AsyncEngine:
    """The engine for DATABASE_URL, or a SetupProblem saying what is wrong with the URL."""
    try:
        driver = make_url(url).drivername
    except ArgumentError:
        raise SetupProblem(f"DATABASE_URL is malformed: use {DATABASE_EXAMPLES}") from None
    try:
        return make_engine(url)
    except (NoSuchModuleError, InvalidRequestError, ImportError, ArgumentError):
        raise SetupProblem(
            f"DATABASE_URL names the driver {driver!r}, which the bot cannot use: "
            f"use {DATABASE_EXAMPLES}"
        ) from None


def _database_problem(engine: AsyncEngine, error: BaseException) -> SetupProblem:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return SetupProblem(
            f"DATABASE_URL: cannot open the SQLite file {url.database!r} "
            f"({type(error).__name__}): create its folder and let the bot's user write there"
        )
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    return SetupProblem(
        f"DATABASE_URL: cannot use the database at {where} ({type(error).__name__}): "
        "check that it runs and the URL's user, password and database name"
    )


def open_sqlite_file(engine: AsyncEngine) -> None:
    """Open a SQLite file directly first: aiosqlite's worker thread, failing to open it,
    outlives the event loop and prints a traceback of its own after our one line."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    try:
        sqlite3.connect(url.database).close()
    except sqlite3.Error as error:
        raise _database_problem(engine, error) from None


async def prepare_database(engine: AsyncEngine, *, only_open: bool = False) -> None:
    """Open the database and (unless `only_open`) bring its schema to the newest revision."""
    open_sqlite_file(engine)
    try:
        async with asyncio.timeout(DATABASE_WAIT_SECONDS):
            if only_open:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                return
            async with startup_lock(engine):
                await migrate(engine)
    except (DBAPIError, OSError, TimeoutError) as error:
        raise _database_problem(engine, error) from None
    except Exception as error:  # asyncpg's own errors (wrong password, no such database)
        if type(error).__module__.startswith("asyncpg"):
            raise _database_problem(engine, error) from None
        raise


def api_host(api_url: str) -> str:
    return urlsplit(api_url).netloc


async def _until_stopped(call: Awaitable[T], stop: asyncio.Event) -> T:
    """The call's result, or Stopped the moment `stop` is set (the call is cancelled)."""
    task = asyncio.ensure_future(call)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise Stopped
    return task.result()


async def reach_telegram(
    bot: Bot, api_url: str, stop: asyncio.Event, say: Callable[[str], None] = log.warning
) -> None:
    """getMe until Telegram answers: said once with the host, then each try counted.
    A refused token or a server that is no Bot API is a SetupProblem."""
    host, attempt = api_host(api_url), 0
    while True:
        try:
            await _until_stopped(bot.initialize(), stop)  # getMe
            if attempt:
                say(f"Telegram at {host} answers again after {attempt} failed tries")
            return
        except InvalidToken:  # PTB's message quotes the token: never shown
            raise SetupProblem(
                f"BOT_TOKEN was refused by {host}: copy it again from @BotFather "
                "(/mybots, your bot, API Token)"
            ) from None
        except (RetryAfter, NetworkError) as error:  # BadRequest is a NetworkError in PTB
            if isinstance(error, BadRequest):
                raise _not_a_bot_api(host, error) from None
            attempt += 1
            if attempt == 1:
                say(
                    f"Telegram at {host} cannot be reached ({type(error).__name__}); "
                    "trying again until it answers (Ctrl-C stops)"
                )
        except TelegramError as error:  # an answer, but not the Bot API's
            raise _not_a_bot_api(host, error) from None
        wait = min(2.0 ** min(attempt, 5), LONGEST_TELEGRAM_WAIT)
        say(f"Telegram at {host}: try {attempt} failed, next in {wait:.0f} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        if stop.is_set():
            raise Stopped


def _not_a_bot_api(host: str, error: Exception) -> SetupProblem:
    return SetupProblem(
        f"TELEGRAM_API_URL: {host} does not answer like the Bot API ({type(error).__name__}): "
        "leave it at https://api.telegram.org/bot or give the address of your Bot API server"
    )
