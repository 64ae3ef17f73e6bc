"""A case's history for staff (/case) and the cases a volunteer holds (/mine, /duty off).

Read from the audit log (every event of a case is a row there, with `case_id`), the notes
and the case's messages. No identity of the person: a case has none; staff are named as
the roster names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.casework import dashed
from models import AuditEntry, Case, CaseMessage, CaseNote, StaffMember
from models.enums import AuditAction, CaseStatus, NoteKind

# Audit actions that are a message to the person (ready answers from a library, if one is
# added, are to be counted here too).
ANSWERS = frozenset({AuditAction.REPLY})
# Notes counted as such in the history (a handover note asked for but not written is not).
WRITTEN_NOTES = (NoteKind.NOTE, NoteKind.HANDOVER)
FROM_PERSON = "in"  # CaseMessage.direction of the person's messages


@dataclass(frozen=True)
class Event:
    at: datetime
    staff_id: int  # 0: the person or the bot
    action: str
    detail: str | None


@dataclass(frozen=True)
class CaseHistory:
    case: Case
    events: list[Event]
    names: dict[int, str]  # staff id -> name on the roster
    from_person: int
    to_person: int
    notes: int


@dataclass(frozen=True)
class HeldCase:
    code: str
    kind: str
    urgent: bool
    waiting_since: datetime | None  # the person's oldest message not answered yet
    last_activity: datetime


class History:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def of(self, code: str) -> CaseHistory | None:
        async with self._sessions() as session:
            case = await session.scalar(select(Case).where(Case.code == dashed(code)))
            if case is None:
                return None
            rows = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.case_id == case.id)
                .order_by(AuditEntry.at, AuditEntry.id)
            )
            events = [Event(r.at, r.staff_id, r.action, r.detail) for r in rows]
            ids = {e.staff_id for e in events} | ({case.taken_by} if case.taken_by else set())
            return CaseHistory(
                case=case,
                events=events,
                names=await self._names(session, ids),
                from_person=await self._count(
                    session,
                    CaseMessage.case_id == case.id,
                    CaseMessage.direction == FROM_PERSON,
                ),
                to_person=sum(e.action in ANSWERS for e in events),
                notes=await self._count(
                    session,
                    CaseNote.case_id == case.id,
                    CaseNote.kind.in_(WRITTEN_NOTES),
                ),
            )

    @staticmethod
    async def _count(session: AsyncSession, *where: ColumnElement[bool]) -> int:
        return int(await session.scalar(select(func.count()).where(*where)) or 0)

    @staticmethod
    async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await session.execute(
            select(StaffMember.telegram_id, StaffMember.name).where(
                StaffMember.telegram_id.in_(ids)
            )
        )
        return {telegram_id: name for telegram_id, name in rows.all()}

    async def held_by(self, staff_id: int) -> list[HeldCase]:
        """The open cases this volunteer has, the longest waiting first."""
        async with self._sessions() as session:
            cases = (
                await session.scalars(
                    select(Case)
                    .where(Case.status == CaseStatus.OPEN, Case.taken_by == staff_id)
                    .order_by(Case.created_at)
                )
            ).all()
            held = [await self._held(session, case) for case in cases]
        return sorted(held, key=lambda h: (h.waiting_since is None, h.waiting_since))

    @staticmethod
    async def _held(session: AsyncSession, case: Case) -> HeldCase:
        last_answer: datetime | None = await session.scalar(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.case_id == case.id, AuditEntry.action.in_(ANSWERS)
            )
        )
        last_event: datetime | None = await session.scalar(
            select(func.max(AuditEntry.at)).where(AuditEntry.case_id == case.id)
        )
        unanswered = select(func.min(CaseMessage.created_at), func.max(CaseMessage.created_at))
        unanswered = unanswered.where(
            CaseMessage.case_id == case.id, CaseMessage.direction == FROM_PERSON
        )
        if last_answer is not None:
            unanswered = unanswered.where(CaseMessage.created_at > last_answer)
        first_waiting, last_message = (await session.execute(unanswered)).one()
        waiting = first_waiting if last_answer is not None else case.created_at
        moments = [case.created_at, last_event, last_message]
        return HeldCase(
            code=case.code,
            kind=case.kind,
            urgent=case.urgent,
            waiting_since=waiting,
            last_activity=max(m for m in moments if m is not None),
        )
