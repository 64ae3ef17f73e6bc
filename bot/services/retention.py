"""Retention (docs/safety.md, rule 9): after RETENTION_DAYS from closing, a case keeps only its
anonymous facts; reply addresses, free text and links to people are erased.

Incremental: a case erased is marked (`erased_at`), so each run touches only what expired
since the one before (an index on erased_at, closed_at finds it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, delete, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import affected
from models import Case, CaseMessage, CaseNote, OutboxMessage, Person

# Cases erased per transaction: a first run over years of cases holds no lock for long.
CHUNK = 500


@dataclass(frozen=True)
class Erased:
    cases: int
    messages: int
    people: int


async def _erase(session: AsyncSession, ids: list[int], now: datetime) -> tuple[int, int]:
    cases = affected(
        await session.execute(
            update(Case)
            .where(Case.id.in_(ids))
            .values(
                description=None, reply_to=None, person=None, person_wrote_at=None, erased_at=now
            )
        )
    )
    messages = affected(
        await session.execute(
            update(CaseMessage)
            .where(CaseMessage.case_id.in_(ids))
            .where(or_(CaseMessage.text.is_not(None), CaseMessage.source_message_id.is_not(None)))
            .values(text=None, source_message_id=None)
        )
    )
    # Staff notes and handover notes are free text about the case too.
    await session.execute(
        update(CaseNote)
        .where(CaseNote.case_id.in_(ids), CaseNote.text.is_not(None))
        .values(text=None)
    )
    # Delivered or dead outbox rows of old cases still hold texts and encrypted chats.
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.case_id.in_(ids), OutboxMessage.status != "pending")
        .where(OutboxMessage.payload != "{}")  # emptied already: not written again
        .values(payload="{}")
    )
    return cases, messages


def expired(cutoff: datetime) -> Select[int]:
    """Closed before the cutoff and not erased yet."""
    return (
        select(Case.id)
        .where(Case.erased_at.is_(None), Case.closed_at < cutoff, Case.status == "closed")
        .order_by(Case.closed_at)
        .limit(CHUNK)
    )


async def erase_expired(
    sessions: async_sessionmaker[AsyncSession], days: int, now: datetime | None = None
) -> Erased:
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=days)
    cases = messages = 0
    while True:
        async with sessions.begin() as session:
            ids = list(await session.scalars(expired(cutoff)))
            if not ids:
                break
            erased = await _erase(session, ids, now)
        cases, messages = cases + erased[0], messages + erased[1]
    async with sessions.begin() as session:
        # Inactive pseudonym links: nobody subscribed and nothing chosen for that long.
        people = affected(
            await session.execute(
                delete(Person).where(Person.subscribed == false(), Person.updated_at < cutoff)
            )
        )
    return Erased(cases, messages, people)
