"""Keyed statements next to each other run as one on PostgreSQL (bot.db._together): what they
write must be exactly what they write one by one (SQLite runs them so), and what cannot be
sent together is not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import Bound, Handing, execute_all, make_engine, migrate
from bot.services.chat_log import _KEEP
from bot.services.handled_updates import HandledUpdates
from bot.services.outbox import _ERASED, _SENT, new_row
from models import ChatMessage, HandledUpdate, OutboxMessage

_OUTBOX = cast(Table, OutboxMessage.__table__)


@pytest.fixture
async def engine(any_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(any_database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@contextmanager
def statements_run(engine: AsyncEngine) -> Iterator[list[str]]:
    run: list[str] = []

    def seen(_c: object, _cursor: object, sql: str, *_: object) -> None:
        run.append(sql)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield run
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def outbox_row(engine: AsyncEngine, payload: dict[str, Any] | None = None) -> int:
    row = new_row("to_person", None, payload or {"text": "hello"}, leased=True)
    ids: list[int] = []
    await execute_all(
        engine, Handing(_OUTBOX.insert().returning(_OUTBOX.c.id), row, then=ids.append)
    )
    return ids[0]


async def test_keyed_statements_write_what_they_write_one_by_one(engine: AsyncEngine) -> None:
    sent = await outbox_row(engine)
    now = datetime.now(UTC)
    handed: list[int] = []
    with statements_run(engine) as run:
        await execute_all(
            engine,
            Bound(
                _KEEP,
                [{"person": "p", "message_id": m, "at": now} for m in (1, 2)],
                keyed=True,
            ),
            Handing(
                _OUTBOX.insert().returning(_OUTBOX.c.id),
                new_row("staff_mark", None, {"mark": "delivered"}, leased=True),
                keyed=True,
                then=handed.append,
            ),
            Bound(_SENT, {"row": sent, "at": now}, keyed=True),
        )
    assert len(run) == (1 if engine.dialect.name == "postgresql" else 3)
    async with engine.connect() as connection:
        kept = (await connection.execute(select(ChatMessage.message_id))).scalars().all()
        rows = dict((await connection.execute(select(_OUTBOX.c.id, _OUTBOX.c.status))).all())
    assert sorted(kept) == [1, 2]
    assert len(handed) == 1 and handed[0] != sent
    assert rows == {sent: "sent", handed[0]: "pending"}


async def test_two_changes_of_one_table_are_not_sent_together(engine: AsyncEngine) -> None:
    """Two UPDATEs in one statement would both read the row as it was: only one would hold."""
    row = await outbox_row(engine, {"text": "secret"})
    with statements_run(engine) as run:
        await execute_all(
            engine,
            Bound(_ERASED, {"row": row}, keyed=True),
            Bound(_SENT, {"row": row, "at": datetime.now(UTC)}, keyed=True),
        )
    assert len(run) == 2
    async with engine.connect() as connection:
        written = (
            await connection.execute(
                select(_OUTBOX.c.payload, _OUTBOX.c.status).where(_OUTBOX.c.id == row)
            )
        ).one()
    assert tuple(written) == ("{}", "sent")


async def test_a_row_left_to_sqlalchemy_to_complete_runs_on_its_own(engine: AsyncEngine) -> None:
    """An INSERT that leaves columns to their Python-side defaults (SQLAlchemy fills them in
    only for a statement of its own) is not sent with others."""
    now = datetime.now(UTC)
    with statements_run(engine) as run:
        await execute_all(
            engine,
            Bound(_KEEP, [{"person": "p", "message_id": 7, "at": now}], keyed=True),
            Bound(_OUTBOX.insert(), {"kind": "staff_mark", "payload": "{}"}, keyed=True),
        )
    assert len(run) == 2
    async with engine.connect() as connection:
        status = (await connection.execute(select(_OUTBOX.c.status))).scalar_one()
        kept = (await connection.execute(select(ChatMessage.message_id))).scalar_one()
    assert (status, kept) == ("pending", 7)


async def test_two_upserts_of_one_table_are_not_sent_together(engine: AsyncEngine) -> None:
    """The same update handled twice over in one write: one by one the second upsert
    updates the row; in one statement PostgreSQL refuses to change a row twice."""
    handled = HandledUpdates(engine, shared=False)
    with statements_run(engine) as run:
        await execute_all(engine, handled.record(7), handled.record(7))
    assert len(run) == 2
    async with engine.connect() as connection:
        assert (await connection.execute(select(HandledUpdate.update_id))).scalar_one() == 7
