"""Retention (SPEC safety rule 9): after RETENTION_DAYS from closing, a case keeps only its
anonymous facts; reply addresses, free text and links to people are erased."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import affected
from models import Case, CaseMessage, OutboxMessage, Person


@dataclass(frozen=True)
class Erased:
    cases: int
    messages: int
    people: int


async def erase_expired(
    sessions: async_sessionmaker[AsyncSession], days: int, now: datetime | None = None
) -> Erased:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    async with sessions.begin() as session:
        expired = select(Case.id).where(
            Case.status == "closed",
            Case.closed_at < cutoff,
            or_(
                Case.description.is_not(None), Case.reply_to.is_not(None), Case.person.is_not(None)
            ),
        )
        ids = list(await session.scalars(expired))
        cases = (
            affected(
                await session.execute(
                    update(Case)
                    .where(Case.id.in_(ids))
                    .values(description=None, reply_to=None, person=None)
                )
            )
            if ids
            else 0
        )
        messages = affected(
            await session.execute(
                update(CaseMessage)
                .where(
                    CaseMessage.case_id.in_(
                        select(Case.id).where(Case.status == "closed", Case.closed_at < cutoff)
                    )
                )
                .where(
                    or_(CaseMessage.text.is_not(None), CaseMessage.source_message_id.is_not(None))
                )
                .values(text=None, source_message_id=None)
            )
        )
        # Delivered or dead outbox rows of old cases still hold texts and encrypted chats.
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.case_id.in_(
                    select(Case.id).where(Case.status == "closed", Case.closed_at < cutoff)
                )
            )
            .where(OutboxMessage.status != "pending")
            .values(payload="{}")
        )
        # Inactive pseudonym links: nobody subscribed and nothing chosen for that long.
        people = affected(
            await session.execute(
                delete(Person).where(Person.subscribed.is_(False), Person.updated_at < cutoff)
            )
        )
    return Erased(cases, messages, people)
