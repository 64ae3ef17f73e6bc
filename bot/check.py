"""`python -m bot check`: a short report on everything the bot needs, and `health` for
Docker. Nothing is changed: no migration, no message sent."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import aiohttp
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot, ChatMemberAdministrator
from telegram.error import InvalidToken, TelegramError

from bot.db import alembic_config, make_sessionmaker
from bot.services.chat_rights import (
    NOT_A_SUPERGROUP,
    NOT_AN_ADMIN,
    TOPIC_RIGHT,
    ChatStanding,
    missing,
)
from bot.services.outbox import Outbox
from bot.services.staff import Staff
from bot.settings import Settings
from bot.startup import (
    DATABASE_WAIT_SECONDS,
    SetupProblem,
    api_host,
    open_engine,
    open_sqlite_file,
)
from bot.telegram_http import AiohttpRequest

# Older than this, a pending outbox message means the sender is stuck (as /healthz says).
OUTBOX_STALE_SECONDS = 300
RIGHT_NAMES = {
    NOT_A_SUPERGROUP: "the chat is not a supergroup (Telegram makes a group one when you "
    "turn on topics or give it a public link; or create a new group)",
    NOT_AN_ADMIN: "the bot is not an administrator here",
    "can_delete_messages": "right to delete messages",
    "can_pin_messages": "right to pin messages",
    "can_restrict_members": "right to ban users",
    TOPIC_RIGHT: "right to manage topics",
}


def _revisions(connection: Connection) -> tuple[set[str], set[str]]:
    current = set(MigrationContext.configure(connection).get_current_heads())
    newest = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return current, newest


async def _database(engine: AsyncEngine) -> str | None:
    """A problem with the database, or None; raises nothing."""
    import asyncio

    try:
        open_sqlite_file(engine)
        async with asyncio.timeout(DATABASE_WAIT_SECONDS), engine.connect() as connection:
            current, newest = await connection.run_sync(_revisions)
    except Exception as error:
        return f"cannot open it ({type(error).__name__}): check DATABASE_URL"
    if current != newest:
        return "the schema is not at the newest revision: run `python -m bot migrate`"
    return None


async def staff_chat_problems(bot: Bot, chat_id: int) -> tuple[str, list[str]]:
    """The chat's title and what the bot lacks there (as keys of RIGHT_NAMES)."""
    chat = await bot.get_chat(chat_id)
    member = await bot.get_chat_member(chat_id, bot.id)
    rights = member.to_dict() if isinstance(member, ChatMemberAdministrator) else {}
    standing = ChatStanding(chat.type, bool(chat.is_forum), member.status, rights)
    topics = "topics on" if chat.is_forum else "topics off"
    return f"{chat.title or chat_id!s} ({topics})", missing(standing)


async def _chats(settings: Settings, engine: AsyncEngine) -> list[int]:
    with contextlib.suppress(Exception):  # no routing rules readable: the default chat
        staff = Staff(make_sessionmaker(engine), [])
        return sorted(await staff.staff_chats(settings.staff_chat_id))
    return [settings.staff_chat_id]


async def _telegram(settings: Settings, engine: AsyncEngine, say: Callable[[str], None]) -> bool:
    host = api_host(settings.telegram_api_url)
    bot = Bot(
        settings.bot_token.get_secret_value(),
        base_url=settings.telegram_api_url,
        request=AiohttpRequest(connection_pool_size=4),
    )
    try:
        await bot.initialize()
    except InvalidToken:
        say(f"telegram: PROBLEM BOT_TOKEN was refused by {host}: copy it again from @BotFather")
        return False
    except TelegramError as error:
        say(f"telegram: PROBLEM {host} cannot be reached ({type(error).__name__})")
        return False
    ok = True
    try:
        say(f"telegram: ok, @{bot.username} at {host}")
        for chat_id in await _chats(settings, engine):
            ok = await _one_chat(bot, chat_id, say) and ok
    finally:
        await bot.shutdown()
    return ok


async def _one_chat(bot: Bot, chat_id: int, say: Callable[[str], None]) -> bool:
    try:
        title, lacking = await staff_chat_problems(bot, chat_id)
    except TelegramError as error:
        say(
            f"staff chat {chat_id}: PROBLEM Telegram says {type(error).__name__}: add the bot "
            "to the group and check the id (send /setup in the group)"
        )
        return False
    if lacking:
        say(f"staff chat {chat_id} {title}: PROBLEM " + "; ".join(RIGHT_NAMES[k] for k in lacking))
        return False
    say(f"staff chat {chat_id} {title}: ok")
    return True


async def report(settings: Settings, say: Callable[[str], None]) -> int:
    """Print one line per part; 0 when all is well, 1 on a problem, 2 on a bad setting."""
    mode = f"webhook {settings.webhook_url}" if settings.webhook_url else "polling"
    say(f"settings: ok ({mode}, default language {settings.default_locale})")
    ok = True
    if not settings.admin_ids:
        say("admins: PROBLEM ADMIN_IDS is empty: nobody can invite staff (put your own id there)")
        ok = False
    else:
        say(f"admins: {len(settings.admin_ids)} in ADMIN_IDS")
    try:
        engine = open_engine(settings.database_url)
    except SetupProblem as bad_url:
        say(f"database: PROBLEM {bad_url}")
        return 2
    try:
        problem = await _database(engine)
        say(f"database: PROBLEM {problem}" if problem else "database: ok, schema up to date")
        ok = await _telegram(settings, engine, say) and ok and problem is None
    finally:
        await engine.dispose()
    return 0 if ok else 1


async def healthy(settings: Settings) -> bool:
    """Webhook mode: the running bot's /healthz. Polling: the database answers and the
    outbox is not stuck."""
    if settings.webhook_url:
        url = f"http://127.0.0.1:{settings.port}/healthz"
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False
    engine = open_engine(settings.database_url)
    try:
        open_sqlite_file(engine)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        _, oldest = await Outbox(engine, make_sessionmaker(engine)).backlog()
        return oldest < OUTBOX_STALE_SECONDS
    except Exception:
        return False
    finally:
        await engine.dispose()
