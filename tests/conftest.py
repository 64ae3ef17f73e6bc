from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.settings import Settings, load_settings
from tests.botapi import BotApi
from tests.harness import Harness

POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
# `QORGAU_TEST_DB=postgresql` runs the whole suite on PostgreSQL instead of SQLite.
DEFAULT_BACKEND = os.environ.get("QORGAU_TEST_DB", "sqlite")
ADMIN_ID = 900001
STAFF_CHAT_ID = -1001234567890


async def _fresh_postgres() -> tuple[str, str]:
    name = f"qorgau_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    return name, f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _drop_postgres(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def database_for(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}"
        return
    name, url = await _fresh_postgres()
    try:
        yield url
    finally:
        await _drop_postgres(name)


# One PostgreSQL database for the tests that do not need one of their own, emptied before
# each test: creating a database and migrating it costs half a second, emptying it 20 ms.
_reused: tuple[str, str] | None = None


async def _emptied_postgres() -> str:
    global _reused
    if _reused is not None:
        connection = await asyncpg.connect(f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{_reused[0]}")
        try:
            await connection.execute("SET lock_timeout = '5s'")
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
            if tables:
                names = ", ".join(f'"{row["tablename"]}"' for row in tables)
                await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            return _reused[1]
        except asyncpg.PostgresError:  # something still holds it: start over
            await _drop_postgres(_reused[0])
        finally:
            await connection.close()
    _reused = await _fresh_postgres()
    return _reused[1]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _reused is not None:
        asyncio.run(_drop_postgres(_reused[0]))


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    if DEFAULT_BACKEND == "postgresql":
        yield await _emptied_postgres()
        return
    async for url in database_for(DEFAULT_BACKEND, tmp_path):
        yield url


# `make test` runs a SQLite pass and a PostgreSQL pass side by side (QORGAU_TEST_PASSES=1):
# there each pass runs these tests on its own dialect only, not both twice over.
BOTH_BACKENDS = (
    [DEFAULT_BACKEND] if os.environ.get("QORGAU_TEST_PASSES") else ["sqlite", "postgresql"]
)


@pytest.fixture(params=BOTH_BACKENDS)
async def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """For database tests that must hold on both dialects in every run (in `make test`,
    across its two passes)."""
    async for url in database_for(request.param, tmp_path):
        yield url


@pytest.fixture
async def botapi() -> AsyncIterator[BotApi]:
    api = BotApi()
    await api.start()
    yield api
    await api.stop()


def make_settings(api: BotApi, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "_env_file": None,
        "bot_token": api.token,
        "telegram_api_url": api.url,
        "database_url": database_url,
        "secret_key": "Qorgau-test-key-7Hq2vN9xLm4RtY8pW3sZ6bK1",
        "admin_ids": str(ADMIN_ID),
        "staff_chat_id": STAFF_CHAT_ID,
        "default_locale": "ru",
        # No quiet hours unless a test wants them: the suite runs at any hour.
        "quiet_hours": "",
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url)


@pytest.fixture
async def harness(botapi: BotApi, settings: Settings) -> AsyncIterator[Harness]:
    h = Harness(botapi, settings)
    await h.start()
    yield h
    await h.stop()
