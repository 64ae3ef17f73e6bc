"""What staff do with a case: take, release, answer, close; escalation; the person's rating."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import cast

from sqlalchemy import Executable, Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import affected, execute_all, insert_new
from bot.i18n import N_
from bot.services.cases import CODE_IN_TEXT
from bot.services.outbox import Outbox, enqueue
from bot.services.staff import Staff, audit
from models import Case, RelayLink

OUTCOMES = {
    "advice": N_("Advice given"),
    "ref_111": N_("Referred to 111"),
    "ref_police": N_("Referred to the police"),
    "ref_crisis": N_("Referred to a crisis centre"),
    "legal_aid": N_("Legal aid"),
    "psych_support": N_("Psychological support"),
    "no_answer": N_("No answer from the person"),
}


class Result(Enum):
    OK = "ok"
    NOT_STAFF = "not staff"
    NO_CASE = "no case"
    TAKEN = "taken by someone else"
    CLOSED = "closed"
    NO_ADDRESS = "no reply address"


@dataclass(frozen=True)
class Outcome:
    result: Result
    case: Case | None = None


def compact(code: str) -> str:
    return code.replace("-", "").upper()


def dashed(code: str) -> str:
    code = compact(code)
    return f"{code[:4]}-{code[4:]}"


class Casework:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        staff: Staff,
        outbox: Outbox,
    ) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._sessions = sessions
        self._staff = staff
        self._outbox = outbox

    async def _case(self, session: AsyncSession, code: str) -> Case | None:
        case: Case | None = await session.scalar(select(Case).where(Case.code == dashed(code)))
        return case

    async def by_code(self, code: str) -> Case | None:
        async with self._sessions() as session:
            return await self._case(session, code)

    async def by_id(self, case_id: int) -> Case | None:
        async with self._sessions() as session:
            return await session.get(Case, case_id)

    async def _act(
        self, code: str, staff_id: int, change: Callable[[AsyncSession, Case], Outcome]
    ) -> Outcome:
        """Run a staff action on an open case: refused for non-staff, unknown or closed cases."""
        if await self._staff.get(staff_id) is None:
            return Outcome(Result.NOT_STAFF)
        async with self._sessions.begin() as session:
            case = await self._case(session, code)
            if case is None:
                return Outcome(Result.NO_CASE)
            if case.status != "open":
                return Outcome(Result.CLOSED, case)
            return change(session, case)

    async def take(self, code: str, staff_id: int) -> Outcome:
        def change(session: AsyncSession, case: Case) -> Outcome:
            if case.taken_by not in (None, staff_id):
                return Outcome(Result.TAKEN, case)
            if case.taken_by is None:
                case.taken_by, case.taken_at = staff_id, datetime.now(UTC)
                audit(session, staff_id, "take", case.id)
            return Outcome(Result.OK, case)

        return await self._act(code, staff_id, change)

    async def release(self, code: str, staff_id: int) -> Outcome:
        def change(session: AsyncSession, case: Case) -> Outcome:
            case.taken_by, case.taken_at = None, None
            audit(session, staff_id, "release", case.id)
            return Outcome(Result.OK, case)

        return await self._act(code, staff_id, change)

    async def close(self, code: str, staff_id: int, outcome: str) -> Outcome:
        if outcome not in OUTCOMES:
            return Outcome(Result.NO_CASE)

        def change(session: AsyncSession, case: Case) -> Outcome:
            case.status, case.closed_at, case.closed_by = "closed", datetime.now(UTC), "staff"
            case.outcome = outcome
            if case.taken_by is None:
                case.taken_by, case.taken_at = staff_id, case.closed_at
            audit(session, staff_id, "close", case.id, outcome)
            if case.reply_to is not None:
                enqueue(session, "closed_notice", case.id)  # the person is told
            return Outcome(Result.OK, case)

        result = await self._act(code, staff_id, change)
        self._outbox.poke()
        return result

    async def rate(self, pseudonym: str, code: str, stars: int) -> bool:
        if not 1 <= stars <= 5:
            return False
        async with self._sessions.begin() as session:
            case = await self._case(session, code)
            if case is None or case.person != pseudonym or case.status != "closed":
                return False
            case.rating = stars
            return True

    async def case_for_message(
        self,
        chat_id: int,
        reply_to_id: int | None,
        thread_id: int | None,
        quoted: str | None = None,
    ) -> Case | None:
        """The case a staff-chat message belongs to: by the message it answers, else by the
        case code in the text of that message (`quoted`: the bot's own, whose id it may
        never have learnt when Telegram took it but the answer was lost), else by the forum
        topic it was written in."""
        async with self._sessions() as session:
            if reply_to_id is not None:
                link = await session.get(RelayLink, (chat_id, reply_to_id))
                if link is not None:
                    return await session.get(Case, link.case_id)
            found = CODE_IN_TEXT.search(quoted or "")
            if found is not None:
                return await self._case(session, found.group(0))
            if thread_id is not None:
                case: Case | None = await session.scalar(
                    select(Case).where(Case.staff_chat_id == chat_id, Case.topic_id == thread_id)
                )
                return case
        return None

    async def staff_reply(
        self,
        case_id: int,
        staff_id: int,
        chat_id: int,
        message_id: int,
        media: str,
        text: str | None,
    ) -> Outcome:
        """Queue a staff message for the person (as "Helpline"), taking the case if free."""
        if await self._staff.get(staff_id) is None:
            return Outcome(Result.NOT_STAFF)
        async with self._sessions.begin() as session:
            case = await session.get(Case, case_id)
            if case is None:
                return Outcome(Result.NO_CASE)
            if case.status != "open":
                return Outcome(Result.CLOSED, case)
            if case.reply_to is None:
                return Outcome(Result.NO_ADDRESS, case)
            if await session.get(RelayLink, (chat_id, message_id)) is not None:
                return Outcome(Result.OK, case)  # this staff message was relayed already
            # Linking it also lets staff reply to their own earlier answers.
            session.add(RelayLink(chat_id=chat_id, message_id=message_id, case_id=case.id))
            if case.taken_by is None:
                case.taken_by, case.taken_at = staff_id, datetime.now(UTC)
                audit(session, staff_id, "take", case.id)
            enqueue(
                session,
                "to_person",
                case.id,
                chat_id=chat_id,
                message_id=message_id,
                media=media,
                text=text,
            )
            audit(session, staff_id, "reply", case.id, media)
        self._outbox.poke()
        return Outcome(Result.OK, case)

    def linked(self, chat_id: int, message_id: int, case_id: int) -> Executable:
        """The statement that links a staff-chat message to its case."""
        values = {"chat_id": chat_id, "message_id": message_id, "case_id": case_id}
        return insert_new(self._dialect, cast(Table, RelayLink.__table__), values)

    async def link(self, chat_id: int, message_id: int, case_id: int) -> None:
        await execute_all(self._engine, self.linked(chat_id, message_id, case_id))

    def card_posted(
        self, case_id: int, chat_id: int, message_id: int, topic_id: int | None
    ) -> list[Executable]:
        """The statements that record a case's card (committed with its outbox row)."""
        return [
            update(Case)
            .where(Case.id == case_id)
            .values(staff_chat_id=chat_id, card_message_id=message_id, topic_id=topic_id),
            self.linked(chat_id, message_id, case_id),
        ]

    async def topic_made(self, case_id: int, chat_id: int, topic_id: int) -> None:
        async with self._sessions.begin() as session:
            case = await session.get(Case, case_id)
            if case is not None:
                case.staff_chat_id, case.topic_id = chat_id, topic_id

    def answered(self, case_id: int) -> Executable:
        """The statement that records the first answer's time (the first one only)."""
        return (
            update(Case)
            .where(Case.id == case_id, Case.first_answer_at.is_(None))
            .values(first_answer_at=datetime.now(UTC))
        )

    async def escalate_due(self, period: timedelta, now: datetime | None = None) -> list[str]:
        """Queue a re-post for every open, untaken case whose wait passed its period
        (a third of it when urgent), counted from the card or the last re-post."""
        now = now or datetime.now(UTC)
        codes = []
        async with self._sessions.begin() as session:
            candidates = (
                await session.scalars(
                    select(Case).where(
                        Case.status == "open",
                        Case.taken_by.is_(None),
                        or_(Case.escalated_at.is_(None), Case.escalated_at <= now - period / 3),
                    )
                )
            ).all()
            for case in candidates:
                wait = period / 3 if case.urgent else period
                since = case.escalated_at or case.created_at
                if now - since < wait:
                    continue
                # Compare-and-set: another instance running the same job re-posts it once only.
                claimed = await session.execute(
                    update(Case)
                    .where(Case.id == case.id, Case.escalations == case.escalations)
                    .values(escalated_at=now, escalations=case.escalations + 1)
                    .execution_options(synchronize_session=False)
                )
                if affected(claimed):
                    enqueue(session, "escalation", case.id, round=case.escalations + 1)
                    codes.append(case.code)
        if codes:
            self._outbox.poke()
        return codes
