"""Every query on a hot path uses an index: the queries the services really run are captured
and EXPLAINed on both databases; a full scan of a table that grows with the years fails."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.app import Services
from bot.db import execute_all, migrate
from bot.services.outbox import enqueue
from bot.services.retention import erase_expired
from models import Case, HeldChat, OutboxMessage, StaffMember
from tests.botapi import BotApi
from tests.conftest import make_settings

# Tables that grow with every case (the small ones, and those pruned to hours of rows,
# may be scanned).
LARGE = {"cases", "case_messages", "outbox", "relay_links", "people", "audit_log"}
LARGE |= {"handled_updates", "chat_messages"}
LAWYER = 4242


def hot_paths(s: Services) -> list[Callable[[], Awaitable[Any]]]:
    now = datetime.now(UTC)
    return [
        s.outbox.claim_next,
        s.outbox.next_due,
        s.outbox.backlog,
        s.outbox.prune_sent,
        lambda: s.casework.escalate_due(timedelta(minutes=15)),
        s.triage.queue,  # /queue
        lambda: s.casework.take("B000-0001", LAWYER),  # counts the lawyer's open cases first
        lambda: erase_expired(s.sessions, 90, now),
        lambda: s.stats.report(365, now),
        lambda: s.stats.report(30, now),
        lambda: s.stats.summarise(now),
        s.stats.opened,
        s.broadcasts.delivery_counts,
        s.broadcasts.prune_finished,
        s.handled_updates.prune,
        s.chat_log.prune,
        # Every message a person writes ends a hold after a quick exit (issue 13).
        lambda: released(s),
        # Every follow-up reads its case with what it needs, and every answer its case by
        # the message it replies to, in one query each (issue 12).
        lambda: s.cases.add_message("someone", 1, "text", "hello", 5),
        lambda: s.casework.target_of(-100, 7, None),
        # ... and opens the answers that waited for them to write first.
        lambda: execute_all(s.engine, s.outbox.wrote("someone")),
    ]


async def released(s: Services) -> None:
    """A held chat released (the statements that mark what waited run only if one was)."""
    async with s.sessions.begin() as session:
        session.add(HeldChat(person="someone", since=datetime.now(UTC)))
    await execute_all(s.engine, s.outbox.released("someone"))


async def expired_case(s: Services) -> None:
    """A case for retention to erase, with an outbox row (so every statement runs)."""
    long_ago = datetime.now(UTC) - timedelta(days=200)
    async with s.sessions.begin() as session:
        case = Case(
            code="A00000001",
            kind="report",
            category="bullying",
            affected="me",
            age_band="30_59",
            region="almaty",
            locale="en",
            description="old story",
            may_answer=True,
            consent_version="1",
            consent_at=long_ago,
            created_at=long_ago,
            status="closed",
            closed_at=long_ago,
        )
        session.add(case)
        await session.flush()
        enqueue(session, "closed_notice", case.id)
        await session.flush()
        await session.execute(update(OutboxMessage).values(status="sent", sent_at=long_ago))
        # An open case and a lawyer to take it (the open-case limit counts their cases).
        session.add(StaffMember(telegram_id=LAWYER, role="lawyer", name="Dana"))
        open_case = {c.name: getattr(case, c.name) for c in Case.__table__.columns}
        open_case.update(id=None, code="B000-0001", status="open", closed_at=None)
        open_case.update(created_at=datetime.now(UTC), risk="high", intake_key=None)
        session.add(Case(**open_case))


async def full_scans(connection: AsyncConnection, sql: str, parameters: Any) -> list[str]:
    if connection.dialect.name == "sqlite":
        plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
        lines = [str(row[-1]) for row in plan]  # id, parent, notused, detail
        pattern = r"^SCAN (\w+)"
    else:
        await connection.exec_driver_sql("SET enable_seqscan = off")  # else tiny tables scan
        plan = await connection.exec_driver_sql(f"EXPLAIN {sql}", parameters)
        lines = [str(row[0]) for row in plan]
        pattern = r"Seq Scan on (\w+)"
    found = [m.group(1) for line in lines if (m := re.search(pattern, line.strip()))]
    return [f"{table}: {sql}" for table in found if table in LARGE]


async def test_hot_path_queries_use_indexes(any_database_url: str, botapi: BotApi) -> None:
    services = Services.create(make_settings(botapi, any_database_url))
    try:
        await migrate(services.engine)
        await expired_case(services)
        captured: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
            if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                captured.append((sql, parameters))

        event.listen(services.engine.sync_engine, "before_cursor_execute", capture)
        for run in hot_paths(services):
            await run()
        event.remove(services.engine.sync_engine, "before_cursor_execute", capture)
        assert len(captured) >= len(hot_paths(services))
        bad = []
        async with services.engine.connect() as connection:
            for sql, parameters in captured:
                bad += await full_scans(connection, sql, parameters)
        assert bad == [], "full scans:\n" + "\n".join(bad)
    finally:
        await services.engine.dispose()
