"""The outbox: messages the bot owes, stored with their cause and delivered with retries.

Nothing here talks to Telegram; handlers/delivery.py does, and reports back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import QueryableAttribute, Session, aliased
from sqlalchemy.sql.elements import BindParameter

from bot.db import (
    Announced,
    Bound,
    Statement,
    affected,
    execute_all,
    run_one,
    run_returning,
    run_statements,
)
from models import Case, HeldChat, OutboxMessage, Person, StaffMember

# Kinds of message that go to the person (the rest go to staff). A case's messages arrive in
# order in each direction; one direction never waits for the other.
TO_PERSON = frozenset(
    {"to_person", "closed_notice", "confirmation"}
    | {"referral_ask", "referral_follow_up", "rights_page"}  # issue 17
)
# Person-bound kinds that keep to the case's safe times (Case.answer_from/answer_until): the
# confirmation of a request just sent is not held (the person is at the phone right now).
WINDOWED = TO_PERSON - {"confirmation"}
# "Only after I write first": after the person writes, answers may arrive for this long. Long
# enough for a volunteer to answer what they just wrote and for a few messages back and forth;
# short enough that an answer does not ring hours later, when the phone may be in other hands.
ANSWERS_AFTER_WRITING = timedelta(minutes=30)
# The cases served last that the claim puts behind the others (round robin).
RECENT = 64
# A claimed row is someone's for this long; a sender that died frees it by simply expiring.
# A live sender starts it again while it still holds the row (Sender._keep_leases).
LEASE = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=5)
# Payload fields that hold the person's chat (encrypted): erased by /forget.
PERSON_CHAT_FIELDS = ("from_chat", "chat")
# Sent rows are kept this long (to look into a delivery), then deleted: the sender's claim
# and the health checks read a table that stays small. Failed rows stay (they are few).
KEEP_SENT = timedelta(days=3)


# Built once (see Bound): every row sent runs them. On the table, not the mapped class: in
# a session an ORM UPDATE costs twice the CPU of a Core one (its bulk-update plugin).
_OUTBOX = cast(Table, OutboxMessage.__table__)
_NOW = bindparam("now", type_=OutboxMessage.due_at.type)
_ROW = _OUTBOX.c.id == bindparam("row", type_=Integer)
_SENT = (
    update(_OUTBOX)
    .where(_ROW)
    .values(
        status="sent",
        sent_at=bindparam("at", type_=OutboxMessage.sent_at.type),
        lease_until=None,
        sending_since=None,
    )
)
_ERASED = update(_OUTBOX).where(_ROW).values(payload="{}")
_SENT_ERASED = _SENT.values(payload="{}")


def _first_of_its_case() -> ColumnElement[bool]:
    """No older row of the same case waits in the same direction (a case's messages arrive
    in order). For a query of OutboxMessage."""
    return ~_earlier_waits()


def _earlier_waits(leased_after: BindParameter[datetime] | None = None) -> ColumnElement[bool]:
    """An older row of the same case waits in the same direction (being sent: leased
    after `leased_after`, if given)."""
    t, earlier = OutboxMessage, aliased(OutboxMessage)
    leased = [] if leased_after is None else [earlier.lease_until > leased_after]
    return exists().where(
        earlier.case_id == t.case_id,
        earlier.status == "pending",
        earlier.id < t.id,
        _one_of(earlier.kind, TO_PERSON) == _one_of(t.kind, TO_PERSON),
        *leased,
    )


def _free(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Pending and not claimed by a live sender."""
    c = _OUTBOX.c
    return and_(c.status == "pending", or_(c.lease_until.is_(None), c.lease_until < now))


# A follow-up's or an answer's row (Outbox.add), every column given: one compiled form.
_ADD = insert(_OUTBOX).returning(_OUTBOX.c.id)


def new_row(
    kind: str, case_id: int | None, payload: dict[str, Any], *, leased: bool
) -> dict[str, Any]:
    """Every column of a new row (for a built-once INSERT: one compiled form, and nothing
    left for SQLAlchemy to fill in); `leased`: claimed as it is written (handed over)."""
    now = datetime.now(UTC)
    return {
        "kind": kind,
        "case_id": case_id,
        "payload": json.dumps(payload),
        "status": "pending",
        "attempts": 0,
        "due_at": now,
        "created_at": now,
        "quiet": False,
        "lease_until": now + LEASE if leased else None,
        "sending_since": now if leased else None,
    }


# The claim's compare-and-set: a second sender (another instance) cannot take the row too.
_CLAIM = (
    update(_OUTBOX)
    .where(_ROW, _free(_NOW))
    .values(
        lease_until=bindparam("lease", type_=OutboxMessage.lease_until.type), sending_since=_NOW
    )
)


def _one_of(
    column: QueryableAttribute[str] | ColumnElement[str], kinds: frozenset[str]
) -> ColumnElement[bool]:
    """`column IN ('a', 'b')`, written into the SQL when it is compiled. `in_` with values
    makes an expanding parameter, rendered again at each execution: about 5 % of the CPU of
    a relayed answer in a profile, since the claim and the follow-up's read have several.
    The kinds are this module's own names, never input (checked: no quoting is needed)."""
    assert all(kind.isidentifier() for kind in kinds)
    return column.in_([literal_column(f"'{kind}'") for kind in sorted(kinds)])


# Built once (see Bound): every message a person writes runs the first two (their new
# message ends a hold and opens answers that waited for it); the third only after a hold.
_CASES, _HELD = cast(Table, Case.__table__), cast(Table, HeldChat.__table__)
_PERSON = bindparam("who", type_=Case.person.type)  # ("person" is a column's name)
_RELEASE = delete(_HELD).where(_HELD.c.person == _PERSON)
_WROTE = (
    update(_CASES)
    .where(_CASES.c.person == _PERSON, _CASES.c.answer_after_writing.is_(True))
    .values(person_wrote_at=bindparam("at", type_=Case.person_wrote_at.type))
)
# What waited for the person, not for a time: due now (one handed back by the rate limiter
# after the exit was due later).
_RELEASED_DUE = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.status == "pending",
        _one_of(_OUTBOX.c.kind, TO_PERSON),
        _OUTBOX.c.case_id.in_(select(_CASES.c.id).where(_CASES.c.person == _PERSON)),
    )
    .values(quiet=True, due_at=case((_OUTBOX.c.due_at > _NOW, _NOW), else_=_OUTBOX.c.due_at))
)


def _waits_before(
    case_id: ColumnElement[int] | QueryableAttribute[int],
    person: ColumnElement[str | None] | QueryableAttribute[str | None],
    to_person: bool,
) -> ColumnElement[bool]:
    """Something of the case pending in one direction; to the person, also their chat held
    (one read for both)."""
    t = OutboxMessage
    waiting: ColumnElement[bool] = exists().where(
        t.case_id == case_id, t.status == "pending", _one_of(t.kind, TO_PERSON) == to_person
    )
    if to_person:
        waiting = or_(waiting, exists().where(HeldChat.person == person))
    return waiting


@dataclass(frozen=True)
class ReadWithCase:
    """What `Outbox.add` would read, read by its caller with the case: whether anything
    waits before the new row (`Outbox.waits_before`), and who has taken the case; `seen`:
    the caller's own (whether the message was kept already)."""

    waiting: bool
    taker: StaffMember | None
    seen: bool = False


def enqueue(session: AsyncSession, kind: str, case_id: int | None, **payload: Any) -> None:
    """Add a message to the outbox inside the caller's transaction."""
    session.add(OutboxMessage(kind=kind, case_id=case_id, payload=json.dumps(payload)))


async def unlink_chats(session: AsyncSession, case_ids: list[int]) -> None:
    """Erase the person's chat from every row of these cases (safety rule 8), in the caller's
    transaction. A file not yet copied to staff then goes as a note that it could not be
    (handlers/delivery.py); the rest of each row is delivered as it was."""
    if not case_ids:
        return
    rows = await session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(OutboxMessage.case_id.in_(case_ids))
    )
    for row_id, payload in rows.all():
        data = json.loads(payload)
        if any(name in data for name in PERSON_CHAT_FIELDS):
            kept = {k: v for k, v in data.items() if k not in PERSON_CHAT_FIELDS}
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(payload=json.dumps(kept))
            )


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    case_id: int | None
    payload: dict[str, Any]
    attempts: int
    # An earlier try may have reached Telegram (the sender stopped in the middle of it, or
    # no answer came). Bot API sends have no idempotency key; the staff are told instead.
    uncertain: bool = False
    # Held while the person had left in a hurry: sent without a sound.
    quiet: bool = False
    # Read with the claim, in its transaction (the sender would otherwise ask for each
    # separately): the row's case and the volunteer who has taken it.
    case: Case | None = None
    taker: StaffMember | None = None


@dataclass(frozen=True)
class NothingDue:
    """The claim found nothing to send; `next_due` is when something falls due (a retry, a
    lease running out), read in the same transaction. None: nothing pending at all.
    `behind`: rows wait behind an earlier one of their case that is being sent: they go
    once it is sent, not at a time of their own."""

    next_due: datetime | None
    behind: bool = False


@dataclass(frozen=True)
class Claimed:
    item: OutboxItem
    more: bool  # another row was due too: one more worker may look


def _item(
    row: OutboxMessage, case: Case | None, taker: StaffMember | None, *, uncertain: bool
) -> OutboxItem:
    """A claimed row (with its case and volunteer) as the sender takes it."""
    silent = case is not None and case.answer_silent and row.kind in TO_PERSON
    return OutboxItem(
        row.id,
        row.kind,
        row.case_id,
        json.loads(row.payload),
        row.attempts,
        uncertain=uncertain,
        # Held after a quick exit, or the person asked for no sound.
        quiet=bool(row.quiet or silent),
        case=case,
        taker=taker,
    )


def backoff(attempts: int) -> timedelta:
    """0.5 s, 1 s, 2 s, … up to five minutes between tries."""
    return min(timedelta(seconds=0.5 * 2 ** min(attempts, 10)), MAX_BACKOFF)


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        zone: ZoneInfo | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._listeners: list[Callable[[], None]] = []
        self._pick_once = self._pick()
        self._due_once = self._due()
        self.zone = zone or ZoneInfo("Asia/Almaty")
        self._clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        # The sender, which takes rows claimed for it as they are added (see `add`), and says
        # when it has room for them (nothing else due, workers free).
        self._hand_to: Callable[[OutboxItem], None] | None = None
        self._room: Callable[[], bool] = lambda: False
        self._watch()

    @property
    def clock(self) -> Callable[[], datetime]:
        """What "now" is for the safe times (tests shift it instead of waiting for an hour)."""
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        # Time moved on: the sender looks again at once, as it does when an hour strikes
        # (Sender._sleep waits no longer than until the next full hour).
        self._clock = clock
        self.poke()

    def _watch(self) -> None:
        """Any transaction of ours that adds outbox rows wakes the sender when it commits
        (SQLAlchemy session events), wherever the rows were added: the sender need not
        look every second for rows nobody announced."""
        own = self._sessions.kw.get("sync_session_class")
        if own is None or own is Session:
            return  # a plain maker (some tools): the sender's IDLE_POLL finds the rows

        def flushed(session: Session, _context: object) -> None:
            handed = {id(row) for row, _, _ in session.info.get("outbox_handed", ())}
            if any(isinstance(row, OutboxMessage) and id(row) not in handed for row in session.new):
                session.info["outbox_added"] = True  # (rows handed over need no waking)

        def committed(session: Session) -> None:
            for row, case_row, taker in session.info.pop("outbox_handed", ()):
                if self._hand_to is not None:
                    self._hand_to(_item(row, case_row, taker, uncertain=False))
            if session.info.pop("outbox_added", False):
                self.poke()

        def rolled_back(session: Session, _previous: object) -> None:
            session.info.pop("outbox_added", None)
            if session.info.pop("outbox_handed", None):
                self.poke()  # the sender made room for them: it looks again

        event.listen(own, "after_flush", flushed)
        event.listen(own, "after_commit", committed)
        event.listen(own, "after_soft_rollback", rolled_back)

    def until_next_hour(self, now: datetime) -> float:
        """Seconds until the next full hour, local time: safe times open on the hour."""
        local = now.astimezone(self.zone)
        top = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return (top - local).total_seconds() + 0.01

    def on_handed(self, listener: Callable[[OutboxItem], None], room: Callable[[], bool]) -> None:
        """The sender takes rows claimed for it as they are added (see `add`) while `room`
        says so."""
        self._hand_to, self._room = listener, room

    async def add(
        self,
        session: AsyncSession,
        kind: str,
        case: Case,
        payload: dict[str, Any],
        read: ReadWithCase | None = None,
        with_: Sequence[Statement] = (),
    ) -> None:
        """`enqueue`, for the hot path (a follow-up, an answer). When the sender has room
        (nothing else due, a worker free) and nothing of the case is before this row in its
        direction, the row is claimed here, in the transaction that adds it, and handed to
        the sender when that commits: no transaction of its own to claim it. A crash first
        leaves it leased: the lease runs out and it goes as usual (marked as possibly
        sent). `read`: what the caller read with the case (`waits_before`), not asked again.
        `with_`: the caller's other writes, sent with the row (see `run_returning`)."""
        handed = self._hand_to is not None and self._room()
        if handed and not await self._goes_now(session, case, kind, read):
            handed = False
        values = new_row(kind, case.id, payload, leased=handed)
        # Written at once, on the table (not session.add): the ORM's flush of one row cost
        # more CPU than the INSERT itself, on every follow-up and answer.
        row_id = (await run_returning(session, _ADD, values, with_)).scalar_one()
        if not handed:
            session.info["outbox_added"] = True  # the sender is woken when it commits
            return
        taker = read.taker if read is not None else None
        if case.taken_by and (taker is None or taker.telegram_id != case.taken_by):
            # Not read with the case, or the case was taken since (by this answer's
            # author: in the session already, no read).
            taker = await session.get(StaffMember, case.taken_by)
        row = OutboxMessage(id=row_id, **values)  # (not in the session: the sender's copy)
        session.info.setdefault("outbox_handed", []).append((row, case, taker))

    async def _goes_now(
        self, session: AsyncSession, case: Case, kind: str, read: ReadWithCase | None
    ) -> bool:
        """Nothing of the case waits before a new `kind` row in its direction, and (for
        the person) nothing holds it: no quick exit, no safe times (those go the claim's
        way, which knows them)."""
        to_person = kind in TO_PERSON
        if to_person and (
            case.answer_from is not None or case.answer_after_writing or case.person is None
        ):
            return False
        if read is not None:
            return not read.waiting
        return not await session.scalar(
            select(_waits_before(literal(case.id), literal(case.person), to_person))
        )

    @staticmethod
    def waits_before(kind: str) -> ColumnElement[bool]:
        """For the caller's query of a case (Case in its FROM): whether anything waits before
        a new `kind` row of it (see `_goes_now`). Read with the case, it saves `add` a read."""
        return _waits_before(Case.id, Case.person, kind in TO_PERSON)

    def on_new(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def poke(self) -> None:
        """Tell the sender there is something new (after the transaction committed)."""
        for listener in self._listeners:
            listener()

    def _not_held(self) -> ColumnElement[bool]:
        """Not a message to a person who left in a hurry and has not written since (the
        one place that holds them: every message to a person leaves through the claim).
        Needs Case joined to the outbox row."""
        t = OutboxMessage
        return ~and_(_one_of(t.kind, TO_PERSON), exists().where(HeldChat.person == Case.person))

    def _in_window(self) -> ColumnElement[bool]:
        """Not an answer outside the hours its person chose (Case.answer_from/until), nor one
        to a person who asked for answers only after they write first and has not written in
        the last ANSWERS_AFTER_WRITING (Case.answer_after_writing, person_wrote_at). The local
        hour and the time are parameters (`_window_params`): the same SQL on SQLite and
        PostgreSQL, a test of each joined case row (no subquery). The sender looks again on
        every full hour and when the person writes (`wrote`), so a window that opens is
        noticed at once. Needs Case joined to the outbox row (no case: no window)."""
        hour = bindparam("hour", type_=Integer)
        wrote_after = bindparam("wrote_after", type_=Case.person_wrote_at.type)
        start, end = Case.answer_from, Case.answer_until
        return or_(
            ~_one_of(OutboxMessage.kind, WINDOWED),
            and_(
                or_(
                    start.is_(None),
                    end.is_(None),
                    and_(start <= end, start <= hour, end > hour),
                    and_(start > end, or_(start <= hour, end > hour)),  # past midnight: 22-7
                ),
                or_(
                    Case.answer_after_writing.is_not(True),  # also: no case (outer join)
                    Case.person_wrote_at >= wrote_after,
                ),
            ),
        )

    def _window_params(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "hour": now.astimezone(self.zone).hour,
            "wrote_after": now - ANSWERS_AFTER_WRITING,
        }

    def wrote(self, pseudonym: str) -> Announced:
        """The statement (for the transaction of the person's new message) that opens the
        answers of the person's cases that wait for them to write first, for
        ANSWERS_AFTER_WRITING. Only those cases are written to; if there were any, the
        sender looks at once when it commits."""
        return Announced(Bound(_WROTE, {"who": pseudonym, "at": self.clock()}), self.poke)

    async def claim_next(self, recent: Sequence[int] = ()) -> OutboxItem | None:
        """Claim a due row (see `claim`); None when nothing is due."""
        claimed = await self.claim(recent)
        return claimed.item if isinstance(claimed, Claimed) else None

    def _pick(self) -> Select[OutboxMessage, Case, StaffMember]:
        """The next due row (and one more, to know if there is another), never ahead of an
        older pending row of the same case in the same direction (a case's messages arrive
        in order), with its case and the volunteer who took it.

        Fair: new cards first, then urgent cases, then cases not among the RECENT served
        last, oldest first: one case with a thousand rows waits its turn like others.

        Built once, with parameters (`_pick_params`): building and keying a statement this
        size each time cost more CPU than running it."""
        t = OutboxMessage
        now = bindparam("now", type_=t.due_at.type)
        recent = [bindparam(f"recent{n}", type_=Integer) for n in range(RECENT)]
        return (
            select(t, Case, StaffMember)
            .where(
                _free(now),
                t.due_at <= now,
                self._not_held(),
                self._in_window(),
                _first_of_its_case(),
            )
            .outerjoin(Case, Case.id == t.case_id)
            .outerjoin(StaffMember, StaffMember.telegram_id == Case.taken_by)
            .order_by(
                case((t.kind == "card", 0), else_=1),
                case((Case.urgent.is_(True), 0), else_=1),
                case((t.case_id.in_(recent), 1), else_=0),
                t.id,
            )
            .limit(2)
            .with_for_update(skip_locked=True, of=t)  # PostgreSQL; SQLite: one writer
        )

    def _pick_params(self, now: datetime, recent: Sequence[int]) -> dict[str, Any]:
        served = list(recent)[-RECENT:]
        # No case has id 0: the places no recent case fills.
        ids = {f"recent{n}": served[n] if n < len(served) else 0 for n in range(RECENT)}
        return {"now": now, **ids, **self._window_params()}

    async def claim(
        self, recent: Sequence[int] = (), finished: Sequence[Statement] = ()
    ) -> Claimed | NothingDue:
        """Claim a due row and mark it as being sent now (see OutboxMessage.sending_since):
        the caller sends it at once. `finished`: the statements that mark the caller's last
        row sent, written in the same transaction (one transaction per message, not two).
        When nothing is due, says when something will be, from the same transaction: an
        idle sender asks the database once per wait, not twice."""
        for _race in range(3):  # another instance took the row between the two statements
            async with self._sessions.begin() as session:
                written = await run_statements(await session.connection(), finished)
                now = datetime.now(UTC)  # after them: a row they added is due already
                rows = (
                    await session.execute(self._pick_once, self._pick_params(now, recent))
                ).all()
                if not rows:
                    nothing = await self._next_due(session, now)
                else:
                    row, case_row, taker = rows[0]
                    # Read before the claim below: an earlier try may have reached Telegram.
                    uncertain = row.sending_since is not None
                    claimed = await session.execute(
                        _CLAIM, {"row": row.id, "now": now, "lease": now + LEASE}
                    )
            finished = ()
            for then in written:  # committed: what the statements announce may go
                then()
            if not rows:
                return nothing
            if affected(claimed) == 1:
                item = _item(row, case_row, taker, uncertain=uncertain)
                return Claimed(item, more=len(rows) > 1)
        return NothingDue(datetime.now(UTC))

    def sent_now(self, item_id: int, after: Sequence[Statement] = ()) -> list[Statement]:
        """`after` (what sending the row changed), then the statement that marks it sent
        (see `claim`'s `finished`); when `after` ends by emptying the row's payload, one
        UPDATE does both."""
        sent = {"row": item_id, "at": datetime.now(UTC)}
        if after and isinstance(last := after[-1], Bound) and last.statement is _ERASED:
            return [*after[:-1], Bound(_SENT_ERASED, sent, keyed=True)]
        return [*after, Bound(_SENT, sent, keyed=True)]

    def erased(self, item_id: int) -> Bound:
        """The statement that empties a row's payload (an encrypted chat it no longer needs)."""
        return Bound(_ERASED, {"row": item_id}, keyed=True)

    async def failed(
        self, item_id: int, error: str, *, tell_staff_of: int | None, erase: bool = False
    ) -> None:
        """Give up on a message (emptying its payload if `erase`); the staff notice about it
        (for case `tell_staff_of`) is queued in the same transaction, so a crash cannot keep
        one without the other."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == item_id)
                .values(
                    status="failed", last_error=error[:120], lease_until=None, sending_since=None
                )
            )
            if erase:
                await run_one(session, self.erased(item_id))
            if tell_staff_of is not None:
                enqueue(session, "staff_notice", tell_staff_of, notice=error)

    async def keep_leases(self, item_ids: Sequence[int]) -> None:
        """The sender still holds these rows (a send waiting for its chat's pace, a row
        handed over waiting for a worker): their leases start again, so that no look takes
        one for a row whose sender is gone while it is still on its way. Not a row given
        back meanwhile (a retry clears its lease): it would wait for a lease nobody holds."""
        c = _OUTBOX.c
        keep = (
            update(_OUTBOX)
            .where(c.id.in_(item_ids), c.status == "pending", c.lease_until.is_not(None))
            .values(lease_until=datetime.now(UTC) + LEASE)
        )
        await execute_all(self._engine, keep)

    async def retry(
        self,
        item_id: int,
        attempts: int,
        error: str,
        after: timedelta | None,
        *,
        in_doubt: bool = False,
    ) -> None:
        """Try again later. `in_doubt`: Telegram may have taken this try (no answer came),
        so the row stays marked as sent once already (see OutboxItem.uncertain)."""
        delay = after if after is not None else backoff(attempts)
        await self._finish(
            item_id,
            attempts=attempts + 1,
            last_error=error[:120],
            due_at=datetime.now(UTC) + delay,
            lease_until=None,
            **({} if in_doubt else {"sending_since": None}),
        )

    async def _finish(self, item_id: int, **values: Any) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(OutboxMessage).where(OutboxMessage.id == item_id).values(**values)
            )

    async def hold(self, pseudonym: str) -> list[int]:
        """The person left in a hurry: their messages wait until they write again, and
        broadcasts skip them. Only someone with cases or a subscription is remembered:
        nothing else goes to a person's chat unasked. Returns the open cases whose staff are
        to be told: none if the chat was held already (one notice until they write again)."""
        async with self._sessions.begin() as session:
            cases = (
                await session.execute(select(Case.id, Case.status).where(Case.person == pseudonym))
            ).all()
            if not cases and not await session.scalar(
                select(Person.subscribed).where(Person.pseudonym == pseudonym)
            ):
                return []
            if await session.get(HeldChat, pseudonym) is not None:
                return []
            session.add(HeldChat(person=pseudonym, since=datetime.now(UTC)))
            open_ids = [case_id for case_id, status in cases if status == "open"]
            for case_id in open_ids:
                enqueue(session, "staff_notice", case_id, notice="left")
        return open_ids

    def released(self, pseudonym: str) -> Announced:
        """The statement (for the transaction of the person's new message) that ends the
        hold: what waited goes out without a sound. The hold goes first and only if there
        was one are the messages marked: one statement for the person who was not held."""
        # Once it commits the sender looks at once (it would otherwise find them on its next
        # look, IDLE_POLL later).
        params = {"who": pseudonym, "now": datetime.now(UTC)}
        return Announced(
            Bound(_RELEASE, params), self.poke, and_run=(Bound(_RELEASED_DUE, params),)
        )

    async def due_now(self) -> int:
        """On start: whatever waits out a backoff is tried at once (a restart often follows
        a fix), except what Telegram itself asked us to hold back (429 retry_after)."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.due_at > now,
                    or_(
                        OutboxMessage.last_error.is_(None), OutboxMessage.last_error != "RetryAfter"
                    ),
                )
                .values(due_at=now)
            )
        return affected(result)

    async def next_due(self) -> datetime | None:
        async with self._sessions() as session:
            return (await self._next_due(session, datetime.now(UTC))).next_due

    def _due(self) -> Select[datetime | None, int | None]:
        """When the next pending row may be claimed: its due time, or for a row being sent
        (leased), when the lease runs out; and whether rows wait behind an earlier one of
        their case that is being sent. Those go when it is sent, not at their own due time
        (counted in, the sender would look a hundred times a second while the earlier one
        was on its way); behind one due later, they go after it, whose time counts. Rows
        held or outside their safe times wait for the person, not for a time, and are left
        out. Built once, like `_pick`."""
        t = OutboxMessage
        now = bindparam("now", type_=t.due_at.type)
        when = case((t.lease_until > now, t.lease_until), else_=t.due_at)
        return (
            select(
                func.min(case((_first_of_its_case(), when), else_=None)),
                func.max(case((_earlier_waits(leased_after=now), 1), else_=0)),
            )
            .outerjoin(Case, Case.id == t.case_id)
            .where(t.status == "pending", self._not_held(), self._in_window())
        )

    async def _next_due(self, session: AsyncSession, now: datetime) -> NothingDue:
        due, behind = (
            await session.execute(self._due_once, {"now": now, **self._window_params()})
        ).one()
        return NothingDue(due, behind=bool(behind))

    async def prune_sent(self, now: datetime | None = None) -> int:
        """Delete rows sent more than KEEP_SENT ago (found by the status, due_at index)."""
        cutoff = (now or datetime.now(UTC)) - KEEP_SENT
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.status == "sent",
                    OutboxMessage.due_at < cutoff,
                    OutboxMessage.sent_at < cutoff,
                )
            )
        return affected(result)

    async def backlog(self) -> tuple[int, float]:
        """Pending rows and the age in seconds of the oldest (for health checks)."""
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status == "pending"
                    )
                )
            ).one()
        if not count or oldest is None:
            return 0, 0.0
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return int(count), (datetime.now(UTC) - oldest).total_seconds()
