"""The schema: migrations and models agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.db import make_engine, migrate
from models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_models(any_database_url: str) -> None:
    engine = make_engine(any_database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
        assert diff == [], f"models and migrations disagree: {diff}"
        await migrate(engine)  # applying again is a no-op, as on every restart
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with engine.connect() as connection:
            assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await connection.scalar(text("PRAGMA foreign_keys"))) == 1
    finally:
        await engine.dispose()
