"""The outbox: messages the bot owes, stored with their cause and delivered with retries.

Nothing here talks to Telegram; handlers/delivery.py does, and reports back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Executable,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.db import affected
from models import Case, HeldChat, OutboxMessage

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
# A claimed row is someone's for this long; a sender that died frees it by simply expiring.
LEASE = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=5)
# Payload fields that hold the person's chat (encrypted): erased by /forget.
PERSON_CHAT_FIELDS = ("from_chat", "chat")
# Sent rows are kept this long (to look into a delivery), then deleted: the sender's claim
# and the health checks read a table that stays small. Failed rows stay (they are few).
KEEP_SENT = timedelta(days=3)


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
        self.zone = zone or ZoneInfo("Asia/Almaty")
        # What "now" is for the safe times (tests shift it instead of waiting for an hour).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def on_new(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def poke(self) -> None:
        """Tell the sender there is something new (after the transaction committed)."""
        for listener in self._listeners:
            listener()

    def _free(self, now: datetime) -> ColumnElement[bool]:
        """Pending and not claimed by a live sender."""
        return and_(
            OutboxMessage.status == "pending",
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
        )

    def _not_held(self) -> ColumnElement[bool]:
        """Not a message to a person who left in a hurry and has not written since (the
        one place that holds them: every message to a person leaves through the claim).
        Needs Case joined to the outbox row."""
        t = OutboxMessage
        return ~and_(t.kind.in_(TO_PERSON), exists().where(HeldChat.person == Case.person))

    def _in_window(self) -> ColumnElement[bool]:
        """Not an answer outside the hours its person chose (Case.answer_from/until), nor one
        to a person who asked for answers only after they write first and has not written in
        the last ANSWERS_AFTER_WRITING (Case.answer_after_writing, person_wrote_at). The local
        hour and the time are parameters: the same SQL on SQLite and PostgreSQL, a test of
        each joined case row (no subquery). The sender claims again at least once a second,
        so a window that opens is noticed at once. Needs Case joined to the outbox row (no
        case: no window)."""
        now = self.clock()
        hour = now.astimezone(self.zone).hour
        start, end = Case.answer_from, Case.answer_until
        return or_(
            ~OutboxMessage.kind.in_(WINDOWED),
            and_(
                or_(
                    start.is_(None),
                    end.is_(None),
                    and_(start <= end, start <= hour, end > hour),
                    and_(start > end, or_(start <= hour, end > hour)),  # past midnight: 22-7
                ),
                or_(
                    Case.answer_after_writing.is_not(True),  # also: no case (outer join)
                    Case.person_wrote_at >= now - ANSWERS_AFTER_WRITING,
                ),
            ),
        )

    def wrote(self, pseudonym: str) -> Executable:
        """The statement (for the transaction of the person's new message) that opens the
        answers of the person's cases that wait for them to write first, for
        ANSWERS_AFTER_WRITING. Only those cases are written to."""
        return (
            update(Case)
            .where(Case.person == pseudonym, Case.answer_after_writing.is_(True))
            .values(person_wrote_at=self.clock())
        )

    async def claim_next(self, recent: Sequence[int] = ()) -> OutboxItem | None:
        """Claim a due row, never ahead of an older pending row of the same case (a case's
        messages arrive in order), and mark it as being sent now (see
        OutboxMessage.sending_since): the caller sends it at once. None when nothing is due.

        Fair: new cards first, then urgent cases, then cases not among `recent` (the cases
        served last), oldest first: one case with a thousand rows waits its turn like others."""
        t, earlier = OutboxMessage, aliased(OutboxMessage)
        served = case((t.case_id.in_(list(recent)), 1), else_=0) if recent else literal(0)
        for _race in range(3):  # another instance took the row between the two statements
            now = datetime.now(UTC)
            pick = (
                select(
                    t.id,
                    t.kind,
                    t.case_id,
                    t.payload,
                    t.attempts,
                    t.sending_since,
                    t.quiet,
                    Case.answer_silent,
                )
                .where(
                    self._free(now),
                    t.due_at <= now,
                    self._not_held(),
                    self._in_window(),
                    ~exists().where(
                        earlier.case_id == t.case_id,
                        earlier.status == "pending",
                        earlier.id < t.id,
                        earlier.kind.in_(TO_PERSON) == t.kind.in_(TO_PERSON),
                    ),
                )
                .outerjoin(Case, Case.id == t.case_id)
                .order_by(
                    case((t.kind == "card", 0), else_=1),
                    case((Case.urgent.is_(True), 0), else_=1),
                    served,
                    t.id,
                )
                .limit(1)
                .with_for_update(skip_locked=True, of=t)  # PostgreSQL; SQLite: one writer
            )
            async with self._engine.begin() as connection:
                row = (await connection.execute(pick)).first()
                if row is None:
                    return None
                # Compare-and-set: a second sender (another instance) cannot take it too.
                claimed = await connection.execute(
                    update(t)
                    .where(t.id == row.id, self._free(now))
                    .values(lease_until=now + LEASE, sending_since=now)
                )
            if affected(claimed) == 1:
                return OutboxItem(
                    row.id,
                    row.kind,
                    row.case_id,
                    json.loads(row.payload),
                    row.attempts,
                    uncertain=row.sending_since is not None,
                    # Held after a quick exit, or the person asked for no sound.
                    quiet=bool(row.quiet or (row.answer_silent and row.kind in TO_PERSON)),
                )
        return None

    async def sent(self, item_id: int, *outcome: Executable) -> None:
        """Mark a row sent, with what its delivery changed (`outcome`) in the same
        transaction: a crash cannot keep one without the other."""
        await self._finish(
            item_id,
            *outcome,
            status="sent",
            sent_at=datetime.now(UTC),
            lease_until=None,
            sending_since=None,
        )

    def erased(self, item_id: int) -> Executable:
        """The statement that empties a row's payload (an encrypted chat it no longer needs)."""
        return update(OutboxMessage).where(OutboxMessage.id == item_id).values(payload="{}")

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
                await session.execute(self.erased(item_id))
            if tell_staff_of is not None:
                enqueue(session, "staff_notice", tell_staff_of, notice=error)

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

    async def _finish(self, item_id: int, *also: Executable, **values: Any) -> None:
        async with self._engine.begin() as connection:
            for statement in also:
                await connection.execute(statement)
            await connection.execute(
                update(OutboxMessage).where(OutboxMessage.id == item_id).values(**values)
            )

    async def hold(self, pseudonym: str) -> list[int]:
        """The person left in a hurry: their messages wait until they write again. Only
        someone with cases is remembered (nothing else goes to a person through the
        outbox). Returns the open cases whose staff are to be told: none if the chat was
        held already (one notice until the person writes again)."""
        async with self._sessions.begin() as session:
            ids = list(await session.scalars(select(Case.id).where(Case.person == pseudonym)))
            if not ids or await session.get(HeldChat, pseudonym) is not None:
                return []
            session.add(HeldChat(person=pseudonym, since=datetime.now(UTC)))
            open_ids = list(
                await session.scalars(
                    select(Case.id).where(Case.person == pseudonym, Case.status == "open")
                )
            )
            for case_id in open_ids:
                enqueue(session, "staff_notice", case_id, notice="left")
        self.poke()
        return open_ids

    def released(self, pseudonym: str) -> list[Executable]:
        """The statements (for the transaction of the person's new message) that end the
        hold: what waited goes out without a sound. Nothing happens if nothing was held."""
        t = OutboxMessage
        held = exists().where(HeldChat.person == pseudonym)
        theirs = select(Case.id).where(Case.person == pseudonym)
        return [
            update(t)
            .where(t.status == "pending", t.kind.in_(TO_PERSON), t.case_id.in_(theirs), held)
            .values(quiet=True),
            delete(HeldChat).where(HeldChat.person == pseudonym),
        ]

    async def waiting_for_staff(self, session: AsyncSession, case_id: int) -> int:
        """How many of the case's messages to staff are still to be delivered."""
        t = OutboxMessage
        count = await session.scalar(
            select(func.count()).where(
                t.case_id == case_id, t.status == "pending", t.kind == "to_staff"
            )
        )
        return int(count or 0)

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
            due: datetime | None = await session.scalar(
                select(func.min(OutboxMessage.due_at))
                .outerjoin(Case, Case.id == OutboxMessage.case_id)
                .where(OutboxMessage.status == "pending", self._not_held(), self._in_window())
            )
            return due

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
