"""What staff do with a case: take, release, answer, close; escalation; the person's rating."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy import case as sql_case  # (`case` is a case everywhere else here)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from bot.db import (
    Bound,
    Statement,
    affected,
    execute_all,
    insert_new_bound,
    read_alone,
    run_one,
)
from bot.i18n import N_
from bot.services.cases import CODE_ALPHABET
from bot.services.errors import (
    CaseClosed,
    CaseErased,
    CaseOpen,
    CaseTaken,
    NoReplyAddress,
    NoSuchCase,
    NotStaff,
    NotYourCase,
    Refused,
    TooManyOpen,
)
from bot.services.outbox import Outbox, ReadWithCase, enqueue
from bot.services.staff import Staff, audit, audited
from bot.services.stats import forget_day
from models import Case, CaseNote, RelayLink, StaffMember
from models.base import UTCDateTime
from models.enums import (
    SENIOR_ROLES,
    AuditAction,
    CaseStatus,
    ClosedBy,
    OutboxKind,
    Outcome,
    RiskLevel,
    Role,
)

OUTCOMES = {
    Outcome.ADVICE: N_("Advice given"),
    Outcome.REFERRED_111: N_("Referred to 111"),
    Outcome.REFERRED_POLICE: N_("Referred to the police"),
    Outcome.REFERRED_CRISIS: N_("Referred to a crisis centre"),
    Outcome.LEGAL_AID: N_("Legal aid"),
    Outcome.PSYCH_SUPPORT: N_("Psychological support"),
    Outcome.NO_ANSWER: N_("No answer from the person"),
}


# The head of a card ("K7QF-2M9X · Report an incident", the code in bold or plain) and of a
# relayed message ("💬 K7QF-2M9X: …"): the bot's own messages a staff reply may answer.
_CODE = rf"[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}"
CARD_HEAD = re.compile(rf"(?:<b>)?({_CODE})(?:</b>)? ·")
RELAYED_HEAD = re.compile(rf"💬 (?:<b>)?({_CODE})\b")
# Paragraphs that may stand above a card or a relayed message: "↻ Sent again…", "⏰ Nobody…".
ABOVE_HEAD = ("↻", "⏰")


def code_of_bot_message(text: str | None) -> str | None:
    """The case code of a card or a relayed message of the bot's, read from its text; None
    for any other message (a notice, /case, /mine…): a reply to those is no answer."""
    for paragraph in (text or "").split("\n\n")[:3]:
        found = CARD_HEAD.match(paragraph) or RELAYED_HEAD.match(paragraph)
        if found is not None:
            return found.group(1)
        if not paragraph.startswith(ABOVE_HEAD):
            return None
    return None


@dataclass(frozen=True)
class Target:
    """The case a staff-chat message is about, and whether it answers the person (a reply
    to the card, to a relayed message or to an earlier answer) or is a note (anything else
    in the case's topic, or a reply to a note)."""

    case: Case
    answer: bool
    # Read with the case, for an answer queued at once (see Outbox.add).
    read: ReadWithCase | None = None


@dataclass(frozen=True)
class StaffAnswer:
    """What a volunteer wrote in the staff chat, to go to the person if it answers them."""

    message_id: int
    media: str
    text: str | None
    file: dict[str, Any] | None = None


@dataclass(frozen=True)
class StaffMessage:
    """A message in a staff chat about a case, and its author's role (None: not staff);
    `answered`: the case it was queued for as an answer (taken by it if `was_free`);
    `wrote_end`: the caller's `update_end` was written with it."""

    target: Target
    role: Role | None
    answered: Case | None = None
    was_free: bool = False
    wrote_end: bool = False


def effective_risk(case: Case) -> RiskLevel | None:
    """The risk staff set; until someone does, an urgent case counts as high."""
    if case.risk in set(RiskLevel):
        return RiskLevel(case.risk)
    return RiskLevel.HIGH if case.urgent else None


def _escalation_due(
    now: datetime, period: timedelta, waits: Mapping[RiskLevel, timedelta]
) -> ColumnElement[bool]:
    """Open, untaken, and waiting since its card or its last re-post for longer than its
    risk allows (`waits`; any other risk, or none, `period`): `effective_risk` in SQL."""
    levels = [level.value for level in RiskLevel]

    def since(wait: timedelta) -> ColumnElement[datetime]:
        return literal(now - wait, UTCDateTime())

    by_risk = sql_case(
        {level.value: since(wait) for level, wait in waits.items()},
        value=Case.risk,
        else_=since(period),
    )
    latest = sql_case(
        (Case.risk.in_(levels), by_risk),
        (Case.urgent.is_(True), since(waits.get(RiskLevel.HIGH, period))),
        else_=since(period),
    )
    return and_(
        Case.status == CaseStatus.OPEN,
        Case.taken_by.is_(None),
        func.coalesce(Case.escalated_at, Case.created_at) <= latest,
    )


def compact(code: str) -> str:
    return code.replace("-", "").upper()


def dashed(code: str) -> str:
    code = compact(code)
    return f"{code[:4]}-{code[4:]}"


# Built once (see Bound), on the table (cheaper in a session): every first answer runs it.
_CASES = cast(Table, Case.__table__)
_ANSWERED = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("case", type_=Integer), _CASES.c.first_answer_at.is_(None))
    .values(first_answer_at=bindparam("at", type_=Case.first_answer_at.type))
)


class Casework:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        staff: Staff,
        outbox: Outbox,
        *,
        max_open: int = 0,
    ) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._link_once = insert_new_bound(self._dialect, cast(Table, RelayLink.__table__))
        # Built once (see Bound): every answer runs it.
        self._linked_case_once = (
            select(Case, StaffMember, outbox.waits_before(OutboxKind.TO_PERSON))
            .join(RelayLink, RelayLink.case_id == Case.id)
            .outerjoin(StaffMember, StaffMember.telegram_id == Case.taken_by)
            .where(
                RelayLink.chat_id == bindparam("chat", type_=RelayLink.chat_id.type),
                RelayLink.message_id == bindparam("message", type_=RelayLink.message_id.type),
            )
        )
        self._sessions = sessions
        self._staff = staff
        self._outbox = outbox
        self._max_open = max_open  # MAX_OPEN_CASES_PER_VOLUNTEER (0: no limit)

    async def _case(self, session: AsyncSession, code: str) -> Case | None:
        case: Case | None = await session.scalar(select(Case).where(Case.code == dashed(code)))
        return case

    async def by_code(self, code: str) -> Case | None:
        async with self._sessions() as session:
            return await self._case(session, code)

    async def by_id(self, case_id: int) -> Case | None:
        async with self._sessions() as session:
            return await session.get(Case, case_id)

    async def _role(self, staff_id: int) -> Role:
        role = await self._staff.role_of(staff_id)
        if role is None:
            raise NotStaff
        return role

    @staticmethod
    def _refuse_if_not_owner(case: Case, staff_id: int, role: Role) -> None:
        """A taken case is worked by its owner, a coordinator or an admin; anyone else is
        refused (the caller audits it, once the case's transaction is over)."""
        if case.taken_by not in (None, staff_id) and role not in SENIOR_ROLES:
            raise NotYourCase(case)

    @staticmethod
    def _open(case: Case | None) -> Case:
        """The case if it exists and is open; refused (raised) otherwise."""
        if case is None:
            raise NoSuchCase
        if case.status != CaseStatus.OPEN:
            raise CaseClosed(case)
        return case

    @classmethod
    def _answerable(cls, case: Case | None, staff_id: int, role: Role) -> Case:
        """An open case with a reply address that this volunteer may answer."""
        case = cls._open(case)
        cls._refuse_if_not_owner(case, staff_id, role)
        if case.reply_to is None:
            raise NoReplyAddress(case)
        return case

    async def _audit_refusal(self, error: NotYourCase, staff_id: int, what: str) -> None:
        await self._staff.refused(staff_id, f"{what} {error.code}", case_id=error.case_id)

    async def _act(
        self,
        code: str,
        staff_id: int,
        change: Callable[[AsyncSession, Case], None],
        *,
        owner_only: str | None = None,
    ) -> Case:
        """Run a staff action on an open case; refused (raised) for non-staff, unknown or
        closed cases, and (`owner_only`: the action's name) for a case someone else has."""
        role = await self._role(staff_id)
        try:
            async with self._sessions.begin() as session:
                case = self._open(await self._case(session, code))
                if owner_only is not None:
                    self._refuse_if_not_owner(case, staff_id, role)
                change(session, case)
                return case
        except NotYourCase as error:
            await self._audit_refusal(error, staff_id, owner_only or "")
            raise

    async def take(self, code: str, staff_id: int) -> Case:
        role = await self._role(staff_id)
        try:
            async with self._sessions.begin() as session:
                case = self._open(await self._case(session, code))
                if case.taken_by not in (None, staff_id):
                    raise CaseTaken(case)
                await self._take_free(session, case, staff_id, role)
                return case
        except TooManyOpen as error:
            await self._audit_limit(error, staff_id, AuditAction.TAKE)
            raise

    async def _take_free(
        self, session: AsyncSession, case: Case, staff_id: int, role: Role
    ) -> None:
        """Take a free case for this volunteer (pressing Take, or answering it), unless they
        hold MAX_OPEN_CASES_PER_VOLUNTEER open cases already; coordinators and admins are
        not limited: they take over what others cannot."""
        if case.taken_by is not None:
            return
        if self._max_open and role not in SENIOR_ROLES:
            held = await session.scalar(
                select(func.count()).where(
                    Case.status == CaseStatus.OPEN, Case.taken_by == staff_id
                )
            )
            if int(held or 0) >= self._max_open:
                raise TooManyOpen(case, limit=self._max_open)
        case.taken_by, case.taken_at = staff_id, datetime.now(UTC)
        audit(session, staff_id, AuditAction.TAKE, case.id)

    async def _audit_limit(self, error: TooManyOpen, staff_id: int, what: str) -> None:
        await self._staff.refused(
            staff_id, f"{what} {error.code}: limit {error.limit}", case_id=error.case_id
        )

    @asynccontextmanager
    async def answering(
        self, code: str, staff_id: int, what: str
    ) -> AsyncIterator[tuple[AsyncSession, Case]]:
        """A transaction on an open case this volunteer may answer, as for a staff reply:
        not someone else's (unless a coordinator or admin), with a reply address, taken for
        them if free. A refusal for someone else's case or over the limit is audited."""
        role = await self._role(staff_id)
        try:
            async with self._sessions.begin() as session:
                case = self._answerable(await self._case(session, code), staff_id, role)
                await self._take_free(session, case, staff_id, role)
                yield session, case
        except NotYourCase as error:
            await self._audit_refusal(error, staff_id, what)
            raise
        except TooManyOpen as error:
            await self._audit_limit(error, staff_id, what)
            raise

    async def set_risk(self, code: str, staff_id: int, level: RiskLevel) -> tuple[Case, bool]:
        """Set the case's risk level (for a taken case: its owner, a coordinator or an
        admin); the change is audited as "old→new". Also whether it changed."""
        changed = []

        def change(session: AsyncSession, case: Case) -> None:
            if case.risk == level:
                return
            audit(session, staff_id, AuditAction.RISK, case.id, f"{case.risk or '-'}→{level}")
            case.risk = level
            changed.append(True)

        case = await self._act(code, staff_id, change, owner_only=AuditAction.RISK)
        return case, bool(changed)

    async def release(self, code: str, staff_id: int) -> Case:
        def change(session: AsyncSession, case: Case) -> None:
            case.taken_by, case.taken_at = None, None
            audit(session, staff_id, AuditAction.RELEASE, case.id)

        return await self._act(code, staff_id, change, owner_only=AuditAction.RELEASE)

    async def close(self, code: str, staff_id: int, outcome: str) -> Case:
        if outcome not in OUTCOMES:
            raise NoSuchCase

        def change(session: AsyncSession, case: Case) -> None:
            case.status, case.closed_at = CaseStatus.CLOSED, datetime.now(UTC)
            case.closed_by, case.outcome = ClosedBy.STAFF, outcome
            if case.taken_by is None:
                case.taken_by, case.taken_at = staff_id, case.closed_at
            audit(session, staff_id, AuditAction.CLOSE, case.id, outcome)
            if case.reply_to is not None:
                enqueue(session, OutboxKind.CLOSED_NOTICE, case.id)  # the person is told
            enqueue(session, OutboxKind.CARD_UPDATE, case.id)  # its topic closes

        result = await self._act(code, staff_id, change, owner_only=AuditAction.CLOSE)
        return result

    async def may_work(self, code: str, staff_id: int, what: str) -> Case:
        """The open case, if this volunteer may work on it (answer, release, close); refused
        (raised, and audited as `what`) otherwise."""
        return await self._act(code, staff_id, lambda session, case: None, owner_only=what)

    async def reopen(self, code: str, staff_id: int) -> Case:
        """Open a closed case again, taken by whoever reopens it; the person is not told
        (they hear from us only when staff answer). Its last owner, a coordinator or an
        admin may; not once retention erased it."""
        role = await self._role(staff_id)
        try:
            async with self._sessions.begin() as session:
                case = await self._case(session, code)
                if case is None:
                    raise NoSuchCase
                if case.status == CaseStatus.OPEN:
                    raise CaseOpen(case)
                if case.erased_at is not None:
                    raise CaseErased(case)
                self._refuse_if_not_owner(case, staff_id, role)
                audit(session, staff_id, AuditAction.REOPEN, case.id, case.outcome)
                case.status, case.closed_at, case.closed_by, case.outcome = (
                    CaseStatus.OPEN,
                    None,
                    None,
                    None,
                )
                # taken_at stays when it was set: /stats measures the wait before the first take.
                case.taken_by, case.taken_at = staff_id, case.taken_at or datetime.now(UTC)
                await forget_day(session, case.created_at)  # that day has an open case again
                return case
        except NotYourCase as error:
            await self._audit_refusal(error, staff_id, AuditAction.REOPEN)
            raise

    async def rate(self, pseudonym: str, code: str, stars: int) -> bool:
        if not 1 <= stars <= 5:
            return False
        async with self._sessions.begin() as session:
            case = await self._case(session, code)
            if case is None or case.person != pseudonym or case.status != CaseStatus.CLOSED:
                return False
            case.rating = stars
            await forget_day(session, case.created_at)
            return True

    async def case_for_message(
        self,
        chat_id: int,
        reply_to_id: int | None,
        thread_id: int | None,
        quoted: str | None = None,
    ) -> Case | None:
        target = await self.target_of(chat_id, reply_to_id, thread_id, quoted)
        return target.case if target is not None else None

    async def target_of(
        self,
        chat_id: int,
        reply_to_id: int | None,
        thread_id: int | None,
        quoted: str | None = None,
    ) -> Target | None:
        async with self._sessions() as session:
            return await self._target_in(session, chat_id, reply_to_id, thread_id, quoted)

    async def staff_message(
        self,
        chat_id: int,
        default_chat: int,
        reply_to_id: int | None,
        thread_id: int | None,
        quoted: str | None,
        staff_id: int,
        name: str,
        answer: StaffAnswer | None = None,
        update_end: Sequence[Statement] = (),
    ) -> StaffMessage | None:
        """A message in a staff chat: its case and its author's role, with the author's
        name kept as Telegram shows it now; `answer` is queued for the person if the message
        answers them (a refusal is audited and raised). None if the chat is none of ours
        (`default_chat` or a routed one) or the message is about no case. One transaction:
        the hot path of every answer. `update_end`: what the caller writes when it is done
        with the message, written here when an answer to a case already taken is all there
        is to do (`wrote_end`): one transaction fewer per answer."""
        try:
            async with self._sessions.begin() as session:
                if not await self._staff.is_staff_chat(session, chat_id, default_chat):
                    return None
                target = await self._target_in(session, chat_id, reply_to_id, thread_id, quoted)
                if target is None:
                    return None
                role = await self._staff.role_in(session, staff_id, name)
                if answer is None or not target.answer or role is None:
                    return StaffMessage(target, role)
                was_free = target.case.taken_by is None
                # (taken now: the caller has a handover note to show, and ends the update)
                end = () if was_free else update_end
                case = await self._queue_in(session, target, staff_id, role, chat_id, answer, end)
                ended = bool(update_end) and not was_free
                return StaffMessage(target, role, case, was_free, wrote_end=ended)
        except Refused as error:
            await self._audit_reply_refused(error, staff_id)
            raise

    async def _target_in(
        self,
        session: AsyncSession,
        chat_id: int,
        reply_to_id: int | None,
        thread_id: int | None,
        quoted: str | None = None,
    ) -> Target | None:
        """What a staff-chat message is about: by the message it replies to (linked to a
        case: an answer; a note: a note), else by the text of that message (`quoted`: the
        bot's own card or relayed message, whose id it may never have learnt when Telegram
        took it but the answer was lost), else by the forum topic it was written in (a note:
        a plain message in a topic replies, for Telegram, to the topic's first message)."""
        if reply_to_id is not None:
            # The case of the message replied to, and what an answer to it needs (one read:
            # every answer runs it).
            params = {"chat": chat_id, "message": reply_to_id}
            linked = (await session.execute(self._linked_case_once, params)).first()
            if linked is not None:
                of_link, taker, waiting = linked
                return Target(of_link, True, ReadWithCase(waiting=bool(waiting), taker=taker))
            note_of = await session.scalar(
                select(CaseNote.case_id)
                .where(CaseNote.chat_id == chat_id, CaseNote.message_id == reply_to_id)
                .limit(1)
            )
            if note_of is not None:
                return await self._target(session, note_of, answer=False)
        code = code_of_bot_message(quoted)
        if code is not None and (case := await self._case(session, code)) is not None:
            return Target(case, answer=True)
        if thread_id is not None:
            in_topic: Case | None = await session.scalar(
                select(Case).where(Case.staff_chat_id == chat_id, Case.topic_id == thread_id)
            )
            return Target(in_topic, answer=False) if in_topic is not None else None
        return None

    @staticmethod
    async def _target(session: AsyncSession, case_id: int, *, answer: bool) -> Target | None:
        case = await session.get(Case, case_id)
        return Target(case, answer) if case is not None else None

    async def _audit_reply_refused(self, error: Refused, staff_id: int) -> None:
        if isinstance(error, NotYourCase):
            await self._audit_refusal(error, staff_id, AuditAction.REPLY)
        elif isinstance(error, TooManyOpen):
            await self._audit_limit(error, staff_id, AuditAction.REPLY)

    async def _queue_in(
        self,
        session: AsyncSession,
        target: Target,
        staff_id: int,
        role: Role,
        chat_id: int,
        answer: StaffAnswer,
        update_end: Sequence[Statement],
    ) -> Case:
        """Queue an answer for the person in the caller's transaction (once per staff
        message), taking the case (read in that transaction) if it is free. `update_end`
        is written with it (or alone, if it was queued before)."""
        case = target.case
        self._answerable(case, staff_id, role)
        # Linking it also lets staff reply to their own earlier answers. Linked already:
        # this staff message was relayed already.
        if not affected(await run_one(session, self.linked(chat_id, answer.message_id, case.id))):
            for statement in update_end:
                await run_one(session, statement)
            return case
        await self._take_free(session, case, staff_id, role)
        answer_row = {
            "chat_id": chat_id,
            "message_id": answer.message_id,
            "media": answer.media,
            "text": answer.text,
            "file": answer.file,
            "mark": True,  # once delivered, the volunteer's message is marked so
        }
        # The audit entry and the update's end go in the row's statement (one round trip).
        audit = audited(staff_id, AuditAction.REPLY, case.id, answer.media)
        await self._outbox.add(
            session, OutboxKind.TO_PERSON, case, answer_row, target.read, [audit, *update_end]
        )
        return case

    def linked(self, chat_id: int, message_id: int, case_id: int) -> Bound:
        """The statement that links a staff-chat message to its case."""
        values = {"chat_id": chat_id, "message_id": message_id, "case_id": case_id}
        return Bound(self._link_once, values, keyed=True)

    async def link(self, chat_id: int, message_id: int, case_id: int) -> None:
        await execute_all(self._engine, self.linked(chat_id, message_id, case_id))

    def card_posted(
        self, case_id: int, chat_id: int, message_id: int, topic_id: int | None
    ) -> list[Statement]:
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

    def answered(self, case: Case) -> list[Bound]:
        """The statement that records the first answer's time: none when the case as read
        (with the answer's claim) has it already, one statement less per answer."""
        if case.first_answer_at is not None:
            return []
        return [Bound(_ANSWERED, {"case": case.id, "at": datetime.now(UTC)}, keyed=True)]

    async def escalate_due(
        self,
        period: timedelta,
        now: datetime | None = None,
        *,
        sooner: Mapping[RiskLevel, timedelta] | None = None,
    ) -> list[str]:
        """Queue a re-post for every open, untaken case whose wait passed its period,
        counted from the card or the last re-post. The period follows the case's risk:
        `sooner` (ESCALATE_HIGH_RISK_MINUTES, ESCALATE_IMMINENT_RISK_MINUTES; by default a
        third of `period`) for high and imminent risk; an urgent case nobody assessed yet
        counts as high."""
        now = now or datetime.now(UTC)
        waits = dict(sooner or {RiskLevel.HIGH: period / 3, RiskLevel.IMMINENT: period / 3})
        due = _escalation_due(now, period, waits)
        # Asked alone first (one round trip): most minutes nothing is due.
        if not await read_alone(self._engine, select(exists().where(due))):
            return []
        codes = []
        async with self._sessions.begin() as session:
            for case in (await session.scalars(select(Case).where(due))).all():
                # Compare-and-set: another instance running the same job re-posts it once only.
                claimed = await session.execute(
                    update(Case)
                    .where(Case.id == case.id, Case.escalations == case.escalations)
                    .values(escalated_at=now, escalations=case.escalations + 1)
                    .execution_options(synchronize_session=False)
                )
                if affected(claimed):
                    enqueue(session, OutboxKind.ESCALATION, case.id, round=case.escalations + 1)
                    codes.append(case.code)
        return codes
