"""Cases: opening one from a finished draft, the person's own view, follow-up messages."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.elements import BindParameter

from bot.db import Bound, run_one
from bot.services.errors import TooManyCases
from bot.services.identity import Identity
from bot.services.intake_form import writes_as_child
from bot.services.outbox import Outbox, ReadWithCase, enqueue
from bot.services.people import People
from bot.services.rapid_response import alert_urgent
from bot.services.scrub import scrub
from bot.services.staff import PERSON_OR_BOT, audit
from bot.services.stats import forget_day
from bot.services.urgency import Facts, urgent_because
from models import Case, CaseMessage, HeldChat, OutboxMessage, StaffMember
from models.enums import AuditAction, ClosedBy

# Bump when the consent text changes; the version is stored with every case (safety rule 5).
CONSENT_VERSION = "2026-11-23.1"
MAX_CASES_PER_HOUR = 3
DESCRIPTION_LIMIT = 2000
# Follow-ups of one case that may wait for the staff chat at once (Telegram lets the bot post
# about 20 a minute in a group); more are refused with a kind word until these are through.
FOLLOW_UP_BACKLOG = 20


# A person's message kept in their case: built once, on the table, run with a list (no
# RETURNING of its id). The ORM's flush of one row cost more CPU than the INSERT itself.
_KEEP_MESSAGE = insert(cast(Table, CaseMessage.__table__))


@dataclass(frozen=True)
class FollowUp:
    code: str
    added: bool  # False: too many still waiting; this one was not kept
    # Whether something waits for the person to write (a hold after "Exit and clear chat",
    # answers they asked for only after writing first): read with the case, so that the
    # update need not end a wait that is not there (two statements fewer a follow-up).
    waits: bool = True
    locale: str | None = None  # the person's stored language (read with the case)


# No 0/O, 1/I: the code is read aloud and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


# A reference code as it stands in a text, e.g. K7QF-2M9X.
CODE_IN_TEXT = re.compile(rf"\b[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}\b")


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


@dataclass(frozen=True)
class AnswerWindow:
    """When answers may reach the person (issue 13, safe times; the outbox keeps to it): only
    from `start` o'clock up to `end` o'clock, local time (None: any hour); without a sound;
    only after they write first. Written as a short choice in buttons: any, quiet, after,
    9-13."""

    start: int | None = None
    end: int | None = None
    silent: bool = False
    after_writing: bool = False

    @classmethod
    def from_choice(cls, choice: str) -> AnswerWindow:
        """The window of a choice; anything not understood is "any time"."""
        if choice == "quiet":
            return cls(silent=True)
        if choice == "after":
            return cls(after_writing=True)
        start, _, end = choice.partition("-")
        if start.isdigit() and end.isdigit():
            return cls(int(start) % 24, int(end) % 24)
        return cls()

    @property
    def choice(self) -> str:
        if self.after_writing:
            return "after"
        if self.start is not None and self.end is not None:
            return f"{self.start}-{self.end}"
        return "quiet" if self.silent else "any"


@dataclass(frozen=True)
class WindowOf:
    """A person's open case as the screen of its answer times needs it."""

    window: AnswerWindow
    child: bool  # a child wrote it about themself: spoken to with ты / сен


@dataclass
class Attachment:
    media: str
    message_id: int
    file: dict[str, Any] | None = None  # a document: file_id and neutral name (handlers/files)


@dataclass
class CaseDraft:
    """What the intake flow collected, as plain data."""

    kind: str
    category: str
    affected: str
    age_band: str
    region: str
    may_answer: bool
    consent_at: datetime
    subcategory: str | None = None
    intake_key: str | None = None
    urgent: bool = False
    description: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    window: AnswerWindow = AnswerWindow()  # chosen when sending (issue 13)


@dataclass(frozen=True)
class CaseSummary:
    code: str
    status: str
    kind: str
    created_at: datetime


class Cases:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        identity: Identity,
        outbox: Outbox,
        people: People,
    ) -> None:
        self._sessions = sessions
        self._identity = identity
        self._outbox = outbox
        self._people = people
        self._follow_up_once = self._follow_up()

    async def opened_recently(
        self, pseudonym: str, now: datetime | None = None, session: AsyncSession | None = None
    ) -> int:
        since = (now or datetime.now(UTC)) - timedelta(hours=1)
        query = (
            select(func.count())
            .select_from(Case)
            .where(Case.person == pseudonym, Case.created_at >= since)
        )
        if session is not None:
            return int(await session.scalar(query) or 0)
        async with self._sessions() as own:
            return int(await own.scalar(query) or 0)

    async def may_open(self, pseudonym: str) -> bool:
        return await self.opened_recently(pseudonym) < MAX_CASES_PER_HOUR

    async def open(self, pseudonym: str, chat_id: int, locale: str, draft: CaseDraft) -> str:
        """Store the case (scrubbed, pseudonymous) and return its reference code; all in one
        transaction, the person waits for it."""
        description = scrub(draft.description.strip())[:DESCRIPTION_LIMIT] or None
        # Urgency follows the rules of bot/data/urgency.toml (docs/rapid-response.md).
        facts = Facts(
            kind=draft.kind,
            category=draft.category,
            age_band=draft.age_band,
            affected=draft.affected,
            danger=draft.urgent,
        )
        urgent = bool(urgent_because(facts))
        for _attempt in range(5):
            code = new_code()
            try:
                async with self._sessions.begin() as session:
                    if draft.intake_key is not None:
                        existing = await session.scalar(
                            select(Case.code).where(Case.intake_key == draft.intake_key)
                        )
                        if existing is not None:
                            return str(existing)  # this flow was sent already (seen twice)
                    if await self.opened_recently(pseudonym, session=session) >= MAX_CASES_PER_HOUR:
                        raise TooManyCases
                    case = Case(
                        code=code,
                        kind=draft.kind,
                        category=draft.category,
                        subcategory=draft.subcategory,
                        affected=draft.affected,
                        age_band=draft.age_band,
                        region=draft.region,
                        urgent=urgent,
                        locale=locale,
                        description=description,
                        may_answer=draft.may_answer,
                        consent_version=CONSENT_VERSION,
                        consent_at=draft.consent_at,
                        person=pseudonym,
                        intake_key=draft.intake_key,
                        reply_to=self._identity.encrypt(chat_id) if draft.may_answer else None,
                        answer_from=draft.window.start,
                        answer_until=draft.window.end,
                        answer_silent=draft.window.silent,
                        answer_after_writing=draft.window.after_writing,
                    )
                    session.add(case)
                    await session.flush()
                    # The card and the attachments go to staff through the outbox, in the
                    # same transaction: a case is never stored without its notification.
                    enqueue(session, "card", case.id)
                    if urgent:  # everyone who must know, at once, and the child's steps
                        await alert_urgent(session, case, child=facts.about_a_child)
                    for attachment in draft.attachments:
                        await self._add_message(
                            session,
                            case.id,
                            chat_id,
                            attachment.media,
                            None,
                            attachment.message_id,
                            attachment.file,
                        )
                return code
            except IntegrityError:
                # The random code was taken (draw another), or the same flow was sent at the
                # same moment elsewhere (the next round finds it by its intake key).
                continue
        raise RuntimeError("could not draw a free case code")

    async def confirm_later(
        self, code: str, chat_id: int, text: str, markup: dict[str, Any]
    ) -> None:
        """The person could not be shown that their case was stored (Telegram failing): the
        outbox shows it, with retries. Without it they would not know, and report again."""
        async with self._sessions.begin() as session:
            case_id = await session.scalar(select(Case.id).where(Case.code == code))
            if case_id is None:
                return
            enqueue(
                session,
                "confirmation",
                case_id,
                chat=self._identity.encrypt(chat_id),
                text=text,
                markup=markup,
            )

    async def of_person(self, pseudonym: str, *, open_only: bool = True) -> list[CaseSummary]:
        query = select(Case).where(Case.person == pseudonym).order_by(Case.created_at)
        if open_only:
            query = query.where(Case.status == "open")
        async with self._sessions() as session:
            cases = (await session.scalars(query)).all()
        return [CaseSummary(c.code, c.status, c.kind, c.created_at) for c in cases]

    async def close_by_person(self, pseudonym: str, code: str) -> bool:
        async with self._sessions.begin() as session:
            case_id = await session.scalar(
                update(Case)
                .where(Case.person == pseudonym, Case.code == code, Case.status == "open")
                .values(status="closed", closed_at=datetime.now(UTC), closed_by="person")
                .returning(Case.id)
            )
            if case_id is not None:  # in the case's history (/case): by the person
                audit(session, PERSON_OR_BOT, AuditAction.CLOSE, case_id, ClosedBy.PERSON)
                # The card says so at once (its topic closes too).
                enqueue(session, "card_update", case_id, said="closed")
        return case_id is not None

    async def set_answer_window(
        self, pseudonym: str, code: str, window: AnswerWindow
    ) -> WindowOf | None:
        """The person chose when answers to their open case may arrive (issue 13, safe
        times; the outbox keeps to it). The card is drawn again with it. "Only after I write
        first" counts from their next message, not from one before the choice. None: not
        their open case."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    update(Case)
                    .where(Case.person == pseudonym, Case.code == code, Case.status == "open")
                    .values(
                        answer_from=window.start,
                        answer_until=window.end,
                        answer_silent=window.silent,
                        answer_after_writing=window.after_writing,
                        person_wrote_at=None,
                    )
                    .returning(Case.id, Case.affected, Case.age_band)
                )
            ).first()
            if row is not None:
                enqueue(session, "card_update", row.id, said="window")
        if row is None:
            return None
        return WindowOf(window, writes_as_child(row.affected, row.age_band))

    async def answer_window_of(self, pseudonym: str, code: str) -> WindowOf | None:
        """The answer times of the person's open case `code` (None: not theirs, or closed)."""
        async with self._sessions() as session:
            case = await session.scalar(
                select(Case).where(
                    Case.person == pseudonym, Case.code == code, Case.status == "open"
                )
            )
        if case is None:
            return None
        window = AnswerWindow(
            case.answer_from, case.answer_until, case.answer_silent, case.answer_after_writing
        )
        return WindowOf(window, writes_as_child(case.affected, case.age_band))

    async def recently_closed(self, pseudonym: str, days: int) -> str | None:
        """The code of the person's case closed in the last `days` days (by them or by
        staff; not once erased), which what they write now may open again."""
        cutoff = datetime.now(UTC) - timedelta(days=days)
        async with self._sessions() as session:
            code: str | None = await session.scalar(
                select(Case.code)
                .where(
                    Case.person == pseudonym,
                    Case.status == "closed",
                    Case.closed_by.in_([ClosedBy.PERSON, ClosedBy.STAFF]),
                    Case.closed_at >= cutoff,
                    Case.erased_at.is_(None),
                )
                .order_by(Case.closed_at.desc(), Case.id.desc())
                .limit(1)
            )
        return code

    async def reopen_by_person(self, pseudonym: str, code: str, days: int) -> bool:
        """The person writes to their recently closed case: it opens again (same card and
        topic, same volunteer) and the staff are told."""
        cutoff = datetime.now(UTC) - timedelta(days=days)
        async with self._sessions.begin() as session:
            case_id = await session.scalar(
                update(Case)
                .where(
                    Case.person == pseudonym,
                    Case.code == code,
                    Case.status == "closed",
                    Case.closed_by.in_([ClosedBy.PERSON, ClosedBy.STAFF]),
                    Case.closed_at >= cutoff,
                    Case.erased_at.is_(None),
                )
                .values(status="open", closed_at=None, closed_by=None, outcome=None)
                .returning(Case.id)
            )
            if case_id is None:
                return False
            audit(session, PERSON_OR_BOT, AuditAction.REOPEN, case_id, ClosedBy.PERSON)
            created_at = await session.scalar(select(Case.created_at).where(Case.id == case_id))
            assert created_at is not None
            await forget_day(session, created_at)  # that day has an open case again
            enqueue(session, "staff_notice", case_id, notice="reopened")
        return True

    async def _add_message(
        self,
        session: AsyncSession,
        case_id: int,
        chat_id: int,
        media: str,
        text: str | None,
        source_message_id: int,
        file: dict[str, Any] | None = None,
        follow_up: tuple[Case, ReadWithCase] | None = None,
    ) -> None:
        """`follow_up`: the case and what was read with it (whether this message was kept
        already among it), for a follow-up handed to an idle sender at once."""
        if follow_up is not None:
            seen = follow_up[1].seen
        else:
            seen = bool(await session.scalar(select(_seen(source_message_id, case_id))))
        if seen:
            return  # the same message again (an update replayed after a crash)
        # Whole (Telegram already keeps a message under 4,096 characters): never cut.
        text = scrub(text) if text else None
        kept = {
            "case_id": case_id,
            "direction": "in",
            "media": media,
            "text": text,
            "source_message_id": source_message_id,
            "created_at": datetime.now(UTC),
        }
        keep = Bound(_KEEP_MESSAGE, [kept], keyed=True)  # (see _KEEP_MESSAGE)
        # The chat is needed to copy a file to staff (not a text); it stays encrypted and
        # leaves the row once it is sent, or when the person asks to be forgotten.
        chat = {} if media == "text" else {"from_chat": self._identity.encrypt(chat_id)}
        payload = {"media": media, "text": text, "message_id": source_message_id, "file": file}
        if follow_up is not None:  # handed to an idle sender at once; kept in its statement
            case, read = follow_up
            await self._outbox.add(session, "to_staff", case, payload | chat, read, [keep])
        else:
            await run_one(session, keep)
            enqueue(session, "to_staff", case_id, **payload, **chat)

    def _follow_up(self) -> Select[Any]:
        """The person's newest open case, and in the same read what a follow-up needs: how
        many wait for staff, whether this message was kept already, whether anything is
        ahead of it, who has the case, and the person's language for the answer (one
        statement, not six: every follow-up runs it). Built once, with parameters (see
        Bound)."""
        t, person = OutboxMessage, bindparam("person", type_=Case.person.type)
        waiting = (
            select(func.count())
            .where(t.case_id == Case.id, t.status == "pending", t.kind == "to_staff")
            .scalar_subquery()
        )
        theirs = aliased(Case)  # any of the person's cases, not the one read
        person_waits = or_(
            exists().where(HeldChat.person == person),
            exists().where(theirs.person == person, theirs.answer_after_writing.is_(True)),
        )
        return (
            select(
                Case,
                StaffMember,
                waiting,
                _seen(bindparam("message", type_=Integer)),
                self._outbox.waits_before("to_staff"),
                person_waits,
                self._people.locale_query(person),
            )
            .outerjoin(StaffMember, StaffMember.telegram_id == Case.taken_by)
            .where(Case.person == person, Case.status == "open")
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(1)
        )

    async def add_message(
        self,
        pseudonym: str,
        chat_id: int,
        media: str,
        text: str | None,
        source_message_id: int,
        file: dict[str, Any] | None = None,
    ) -> FollowUp | None:
        """Attach a follow-up to the person's newest open case (None: there is none). Not
        while FOLLOW_UP_BACKLOG of theirs still wait for the staff chat: one person's flood
        must not bury everyone else's reports (the person is told; nothing is kept)."""
        async with self._sessions.begin() as session:
            params = {"person": pseudonym, "message": source_message_id}
            row = (await session.execute(self._follow_up_once, params)).first()
            if row is None:
                return None
            case, taker, count, seen, ahead, waits, locale = row
            self._people.remember_locale(pseudonym, locale)  # fresh: for their next updates
            if count >= FOLLOW_UP_BACKLOG:
                return FollowUp(case.code, added=False, locale=locale)
            read = ReadWithCase(waiting=bool(ahead), taker=taker, seen=bool(seen))
            await self._add_message(
                session,
                case.id,
                chat_id,
                media,
                text,
                source_message_id,
                file,
                follow_up=(case, read),
            )
            code: str = case.code
        return FollowUp(code, added=True, waits=bool(waits), locale=locale)


def _seen(
    source_message_id: int | BindParameter[int], case_id: int | QueryableAttribute[int] = Case.id
) -> ColumnElement[bool]:
    """Whether the person's message is kept among the case's already (the update replayed
    after a crash); by default for a query of the case."""
    return exists().where(
        CaseMessage.case_id == case_id,
        CaseMessage.direction == "in",
        CaseMessage.source_message_id == source_message_id,
    )
