"""The database goes away for a while: people are told to try again, and the bot recovers
by itself when it is back (PostgreSQL, where connections can be refused on purpose)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.botapi import BotApi
from tests.conftest import POSTGRES_ADMIN, database_for, make_settings
from tests.harness import Harness


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


async def test_people_are_told_to_try_again_and_the_bot_recovers(
    botapi: BotApi, postgres_url: str
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    h = Harness(botapi, make_settings(botapi, postgres_url, default_locale="en"))
    await h.start()
    try:
        await set_reachable(database, False)
        person = h.person(1400)
        await person.send("/start")
        assert person.text == (
            "Sorry, something went wrong on our side. Please try again in a minute."
        )
        await set_reachable(database, True)
        await person.send("/start")
        assert person.text.startswith("If you or someone else is in danger now")
        await person.tap("Report an incident")
        assert person.text.startswith("Before we start")
    finally:
        await set_reachable(database, True)
        await h.stop()
