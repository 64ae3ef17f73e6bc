"""The database goes away for a while: people are told to try again, and the bot recovers
by itself when it is back (PostgreSQL, where connections can be refused on purpose)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from models import ChatMessage
from tests.botapi import BotApi
from tests.conftest import POSTGRES_ADMIN, database_for, make_settings
from tests.flows import report
from tests.harness import Harness
from tests.test_staff import delivered, join_as


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    async for url in database_for("postgresql", tmp_path):
        yield url


async def set_reachable(database: str, reachable: bool) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await connection.execute(
            f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {str(reachable).lower()}'
        )
        if not reachable:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
    finally:
        await connection.close()


@asynccontextmanager
async def bot_on(botapi: BotApi, postgres_url: str) -> AsyncIterator[tuple[Harness, str]]:
    """The bot on its own database; the database is reachable again afterwards."""
    database = postgres_url.rsplit("/", 1)[1]
    h = Harness(botapi, make_settings(botapi, postgres_url, default_locale="en"))
    await h.start()
    try:
        yield h, database
    finally:
        await set_reachable(database, True)
        await h.stop()


async def test_people_are_told_to_try_again_and_the_bot_recovers(
    botapi: BotApi, postgres_url: str
) -> None:
    async with bot_on(botapi, postgres_url) as (h, database):
        await set_reachable(database, False)
        person = h.person(1400)
        await person.send("/start")
        assert person.text.startswith(
            "Sorry, something went wrong on our side. Please try again in a minute."
        )
        assert "☎ 112" in person.text  # the numbers, even when nothing else works
        await set_reachable(database, True)
        await person.send("/start")
        assert person.text.startswith("If you or someone else is in danger now")
        await person.tap("Report an incident")
        assert person.text.startswith("Before we start")


async def test_the_error_screen_speaks_the_chosen_language_and_gives_the_numbers(
    botapi: BotApi, postgres_url: str
) -> None:
    """Telegram says Russian, the person chose Kazakh: the apology comes in Kazakh."""
    async with bot_on(botapi, postgres_url) as (h, database):
        person = h.person(1401, language_code="ru")
        await person.send("/start")
        await person.tap("Язык")
        await person.tap("Қазақша")
        await set_reachable(database, False)
        await person.send("/start")
        assert person.text.startswith("Кешіріңіз, бізде ақау болды.")
        assert "☎ 112" in person.text and "☎ 103" in person.text


async def test_exit_while_the_database_is_away_clears_what_it_can_and_stays_silent(
    botapi: BotApi, postgres_url: str
) -> None:
    """No apology goes into the chat the person asked to clear (it used to). What the bot
    sent lately goes at once; the rest, and the hold, once the database is back."""
    async with bot_on(botapi, postgres_url) as (h, database):
        person = h.person(1403)
        await person.send("/start")
        await person.tap("Emergency numbers")
        await set_reachable(database, False)
        await person.tap("Exit and clear chat")
        assert person.bot_messages() == [], "the bot wrote into a chat being cleared"
        await set_reachable(database, True)

        async def cleared() -> bool:
            """The press came again: the person's /start is gone too, and no id is kept."""
            assert h.app is not None
            async with h.app.services.sessions() as session:
                kept = await session.scalar(select(func.count()).select_from(ChatMessage))
            return botapi.messages[person.user.id] == {} and kept == 0

        await h.until(cleared, timeout=60)


async def test_a_volunteers_answer_while_the_database_is_away_is_not_lost(
    botapi: BotApi, postgres_url: str
) -> None:
    async with bot_on(botapi, postgres_url) as (h, database):
        dana = await join_as(h, "lawyer", 1401, "Dana")
        person = h.person(1402)
        code = await report(person, description=None)
        await delivered(h)
        await dana.press(dana.card(code), "Take")
        await set_reachable(database, False)
        await dana.write_in_staff_chat("We are here for you.", reply_to=dana.card(code))
        note = dana.staff_messages()[-1]
        assert note["text"].startswith("⚠️ Not sent yet: the bot cannot reach its database.")
        await set_reachable(database, True)

        async def answered() -> bool:
            return any(
                m.get("text") == "Helpline: We are here for you." for m in person.bot_messages()
            )

        await h.until(answered, timeout=60)  # the update came again and was handled


async def test_connections_the_server_ended_are_replaced_without_anyone_noticing(
    botapi: BotApi, postgres_url: str
) -> None:
    """PostgreSQL restarts (or an operator ends the bot's sessions) while the bot is idle:
    the next person's message works at once, on a new connection (no error screen)."""
    async with bot_on(botapi, postgres_url) as (h, database):
        person = h.person(1403)
        await person.send("/start")
        assert person.text.startswith("If you or someone else is in danger now")
        connection = await asyncpg.connect(POSTGRES_ADMIN)
        sessions = "FROM pg_stat_activity WHERE datname = $1"
        try:
            ended = await connection.fetchval(
                f"SELECT count(pg_terminate_backend(pid)) {sessions}", database
            )

            # pg_terminate_backend only signals them: wait until they are gone (while the
            # bot is idle), not race the ending (a first use within that instant fails).
            # One the bot opened meanwhile for its own work (its first looks after the
            # start can come this late on a loaded machine, and the pool keeps it) is ended
            # too, as a restart of PostgreSQL would.
            async def gone() -> bool:
                await connection.fetchval(
                    f"SELECT count(pg_terminate_backend(pid)) {sessions}", database
                )
                return not await connection.fetchval(f"SELECT count(*) {sessions}", database)

            await h.until(gone)
        finally:
            await connection.close()
        assert ended > 0
        for _ in range(3):
            await person.send("/start")
            assert person.text.startswith("If you or someone else is in danger now")
