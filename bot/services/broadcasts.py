"""Awareness broadcasts: who gets which version, and a record of every delivery so that a
crash resumes where it stopped and nobody receives a broadcast twice.

A delivery row goes pending -> claimed (a chunk, by one sender, in one statement) -> sending
(a burst of a few, written in one statement just before exactly those go out together) ->
sent, failed, blocked, or pending again (Telegram asked to wait). A burst's outcomes are
written in one transaction as soon as its calls are back, so a message costs a fraction of
a round trip. After a crash a claimed row goes back to pending (nothing was sent); a sending
row becomes unknown and is not sent again: only the burst on its way at that moment (sent,
or still in flight) is in doubt, and the Bot API cannot say whether it arrived.

Campaigns may be scheduled (status `scheduled`, `scheduled_at`) and targeted (`audience`);
their recipients are fixed in one INSERT ... SELECT when they start.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import Statement, affected, run_one
from bot.services.identity import Identity
from bot.services.staff import audit
from models import Broadcast, BroadcastDelivery, Case, HeldChat, Person
from models.enums import AuditAction

# A burst is sent within a second and one message within 20 s (timeouts): rows claimed or
# sending for longer than this belong to a sender that died.
IN_FLIGHT_GRACE = timedelta(seconds=30)
# Telegram answering with an error of its own (5xx) this often for one person: given up.
MAX_ATTEMPTS = 5
# The deliveries of a broadcast finished this long ago are counted into its tally and
# deleted: nothing is sent from them any more, and the table stays small.
KEEP_DELIVERIES = timedelta(days=7)
# "Unsubscribed within a day of it" in the campaign report.
REPORT_WINDOW = timedelta(days=1)
UNSENT = ("pending", "claimed", "sending")


@dataclass(frozen=True)
class Recipient:
    person: str
    chat: str  # encrypted; decrypted just before the message goes out (Broadcasts.chat_id)
    locale: str


@dataclass(frozen=True)
class Outcome:
    person: str
    status: str  # sent failed blocked unknown pending error
    message_id: int | None = None


@dataclass(frozen=True)
class Claim:
    recipients: list[Recipient]
    cursor: str | None  # the last row looked at; None: nothing pending after the old cursor


@dataclass(frozen=True)
class Progress:
    total: int  # recipients: those fixed, or the audience's size at the start until all are
    counts: dict[str, int]

    @property
    def left(self) -> int:
        return self.total - sum(n for s, n in self.counts.items() if s not in UNSENT)

    @property
    def done(self) -> int:
        return self.total - self.left


@dataclass(frozen=True)
class Report:
    broadcast: Broadcast
    progress: Progress
    unsubscribed: int


def audience_filter(audience: str) -> list[ColumnElement[bool]]:
    """Who a campaign may reach: subscribers, then one language or one shared region."""
    conditions: list[ColumnElement[bool]] = [
        Person.subscribed.is_(True),
        Person.blocked_at.is_(None),
        Person.chat.is_not(None),
    ]
    kind, _, value = audience.partition(":")
    if kind == "lang":
        conditions.append(Person.locale == value)
    elif kind == "region":
        conditions.append(Person.region == value)
    return conditions


class Broadcasts:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        identity: Identity,
        default_locale: str,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._identity = identity
        self._default = default_locale

    async def subscriber_count(self, audience: str = "") -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(Person).where(*audience_filter(audience))
            )
        return int(count or 0)

    async def start(
        self,
        admin_id: int,
        admin_chat_id: int,
        versions: dict[str, dict[str, Any]],
        *,
        admin_locale: str | None = None,
        audience: str = "",
        at: datetime | None = None,
        night_ok: bool = False,
    ) -> int:
        """Create the campaign: sent now (its recipients fixed: today's subscribers in the
        audience), or scheduled for `at`."""
        async with self._sessions.begin() as session:
            broadcast = Broadcast(
                created_by=admin_id,
                admin_chat_id=admin_chat_id,
                admin_locale=admin_locale,
                versions=json.dumps(versions),
                audience=audience,
                night_ok=night_ok,
                scheduled_at=at,
                status="scheduled" if at else "running",
            )
            if at is None:
                await self._begin(session, broadcast)
            session.add(broadcast)
            await session.flush()
            audit(session, admin_id, AuditAction.BROADCAST, detail=f"#{broadcast.id}")
            return broadcast.id

    async def _begin(self, session: AsyncSession, broadcast: Broadcast) -> None:
        """Sending starts: its recipients are today's subscribers in the audience, fixed a
        chunk at a time as the sending reaches them (`fix_more`)."""
        broadcast.status, broadcast.fixed_after = "running", ""
        broadcast.started_at = datetime.now(UTC)
        broadcast.planned = await session.scalar(
            select(func.count()).select_from(Person).where(*audience_filter(broadcast.audience))
        )

    async def fix_more(self, broadcast_id: int, limit: int) -> bool:
        """Fix the next `limit` recipients (one INSERT ... SELECT, in pseudonym order: the
        rows never pass through Python). False once everyone is fixed."""
        async with self._sessions.begin() as session:
            broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
            if broadcast is None or broadcast.fixed_after is None:
                return False
            people = (
                select(literal(broadcast_id), Person.pseudonym, literal("pending"), literal(0))
                .where(
                    *audience_filter(broadcast.audience), Person.pseudonym > broadcast.fixed_after
                )
                .order_by(Person.pseudonym)
                .limit(limit)
            )
            result = await session.execute(
                insert(BroadcastDelivery).from_select(
                    ["broadcast_id", "person", "status", "attempts"], people
                )
            )
            if affected(result) < limit:
                broadcast.fixed_after = None
            else:
                broadcast.fixed_after = await session.scalar(
                    select(func.max(BroadcastDelivery.person)).where(
                        BroadcastDelivery.broadcast_id == broadcast_id
                    )
                )
            return True

    async def start_due(self, now: datetime) -> list[int]:
        """Scheduled campaigns whose time has come start now (each exactly once, even with
        several instances: the row is locked and its status checked)."""
        started = []
        async with self._sessions.begin() as session:
            due = await session.scalars(
                select(Broadcast)
                .where(Broadcast.status == "scheduled", Broadcast.scheduled_at <= now)
                .with_for_update(skip_locked=True)
            )
            for broadcast in list(due):
                await self._begin(session, broadcast)
                started.append(broadcast.id)
        return started

    async def scheduled(self) -> list[Broadcast]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Broadcast)
                .where(Broadcast.status == "scheduled")
                .order_by(Broadcast.scheduled_at)
            )
            return list(rows)

    async def recent(self, limit: int = 5) -> list[Broadcast]:
        """The latest campaigns that started (for their reports)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Broadcast)
                .where(Broadcast.status != "scheduled")
                .order_by(Broadcast.id.desc())
                .limit(limit)
            )
            return list(rows)

    async def reschedule(self, broadcast_id: int, at: datetime, night_ok: bool) -> bool:
        """A new time for a campaign that has not started; False if it has (or is gone)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.status == "scheduled")
                .values(scheduled_at=at, night_ok=night_ok)
            )
        return affected(result) == 1

    async def cancel_scheduled(self, broadcast_id: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.status == "scheduled")
                .values(status="cancelled", finished_at=datetime.now(UTC))
            )
        return affected(result) == 1

    async def set_progress_message(self, broadcast_id: int, message_id: int) -> None:
        await self._update(broadcast_id, progress_message_id=message_id)

    async def set_status(self, broadcast_id: int, status: str) -> None:
        values: dict[str, Any] = {"status": status}
        if status in ("done", "cancelled"):
            values["finished_at"] = datetime.now(UTC)
        await self._update(broadcast_id, **values)

    async def _update(self, broadcast_id: int, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Broadcast).where(Broadcast.id == broadcast_id).values(**values)
            )

    async def get(self, broadcast_id: int) -> Broadcast | None:
        async with self._sessions() as session:
            return await session.get(Broadcast, broadcast_id)

    async def due_in(self, now: datetime) -> float | None:
        """Seconds until the broadcaster has something to do: 0 for a campaign under way
        (or paused) or a scheduled one whose time has come, the wait until the next
        scheduled one, None for none. Its idle check: one small read (the campaigns table
        holds a few rows a month), so an idle bot takes no lock and runs no other query."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Broadcast.status, func.min(Broadcast.scheduled_at))
                .where(Broadcast.status.in_(("running", "paused", "scheduled")))
                .group_by(Broadcast.status)
            )
            waits = [
                0.0 if status != "scheduled" or at is None else (at - now).total_seconds()
                for status, at in rows
            ]
        return max(0.0, min(waits)) if waits else None

    async def running(self) -> list[int]:
        async with self._sessions() as session:
            ids = await session.scalars(
                select(Broadcast.id).where(Broadcast.status == "running").order_by(Broadcast.id)
            )
            return list(ids)

    async def abandon_in_flight(self) -> int:
        """After a crash: claimed rows go back to pending; a row caught mid-send may or may
        not have arrived: it is not sent again (at most once) and counted as unknown. Rows
        another running instance holds are younger than IN_FLIGHT_GRACE and left alone.
        Returns how many are unknown."""
        now = datetime.now(UTC)
        # Only campaigns under way: the index finds their rows (all rows of all campaigns
        # ever sent would be read every time otherwise).
        under_way = select(Broadcast.id).where(Broadcast.status.in_(("running", "paused")))
        stale = and_(
            BroadcastDelivery.broadcast_id.in_(under_way),
            BroadcastDelivery.at < now - IN_FLIGHT_GRACE,
        )
        async with self._engine.begin() as connection:
            await connection.execute(
                update(BroadcastDelivery)
                .where(BroadcastDelivery.status == "claimed", stale)
                .values(status="pending", at=now)
            )
            result = await connection.execute(
                update(BroadcastDelivery)
                .where(BroadcastDelivery.status == "sending", stale)
                .values(status="unknown", at=now)
            )
        return affected(result)

    def version_for(self, versions: dict[str, dict[str, Any]], locale: str) -> dict[str, Any]:
        version = versions.get(locale) or versions.get(self._default)
        return version or next(iter(versions.values()))

    def chat_id(self, recipient: Recipient) -> int:
        return int(self._identity.decrypt(recipient.chat))

    async def claim(self, broadcast_id: int, after: str, limit: int) -> Claim:
        """The next `limit` pending rows after the cursor `after` (keyset: straight off the
        index, never the whole list), claimed for this sender in one statement. People who
        unsubscribed, blocked the bot, have an open case or left in a hurry are skipped."""
        now = datetime.now(UTC)
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(
                        BroadcastDelivery.person,
                        Person.subscribed,
                        Person.chat,
                        Person.blocked_at,
                        Person.locale,
                    )
                    .join(Person, Person.pseudonym == BroadcastDelivery.person, isouter=True)
                    .where(
                        BroadcastDelivery.broadcast_id == broadcast_id,
                        BroadcastDelivery.status == "pending",
                        BroadcastDelivery.person > after,
                    )
                    .order_by(BroadcastDelivery.person)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return Claim([], None)
            people = [row.person for row in rows]
            open_cases = set(
                await connection.scalars(
                    select(Case.person).where(Case.status == "open", Case.person.in_(people))
                )
            )
            # Left in a hurry and not written since (issue 13): nothing goes to their chat.
            held = set(
                await connection.scalars(select(HeldChat.person).where(HeldChat.person.in_(people)))
            )
            wanted = {
                row.person: row
                for row in rows
                if row.subscribed
                and row.chat
                and row.blocked_at is None
                and row.person not in open_cases
                and row.person not in held
            }
            skipped = [p for p in people if p not in wanted]
            await self._move(connection, broadcast_id, skipped, "pending", "skipped", now)
            # Compare-and-set: another instance may have claimed some of them meanwhile.
            claimed = await self._move(
                connection, broadcast_id, list(wanted), "pending", "claimed", now
            )
        recipients = [
            Recipient(p, row.chat, row.locale or self._default)
            for p, row in wanted.items()
            if p in claimed
        ]
        return Claim(recipients, people[-1])

    @staticmethod
    async def _move(
        connection: AsyncConnection,
        broadcast_id: int,
        people: Sequence[str],
        old: str,
        new: str,
        now: datetime,
        *also: ColumnElement[bool],
    ) -> set[str]:
        """Rows of these people in state `old` go to `new`, in one statement; which did."""
        if not people:
            return set()
        result = await connection.execute(
            update(BroadcastDelivery)
            .where(
                BroadcastDelivery.broadcast_id == broadcast_id,
                BroadcastDelivery.person.in_(people),
                BroadcastDelivery.status == old,
                *also,
            )
            .values(status=new, at=now)
            .returning(BroadcastDelivery.person)
        )
        return set(result.scalars())

    async def go(
        self,
        broadcast_id: int,
        outcomes: Sequence[Outcome],
        burst: Sequence[str],
        *also: Statement,
    ) -> set[str]:
        """One transaction: store the last burst's outcomes (with `also`), then mark the
        next burst as going out now, if the campaign is still running. Returns who of
        `burst` is marked: only those may be sent."""
        now = datetime.now(UTC)
        running = exists().where(Broadcast.id == broadcast_id, Broadcast.status == "running")
        async with self._engine.begin() as connection:
            await self._record(connection, broadcast_id, outcomes, now)
            for statement in also:
                await run_one(connection, statement)
            return await self._move(
                connection, broadcast_id, burst, "claimed", "sending", now, running
            )

    async def _record(
        self,
        connection: AsyncConnection,
        broadcast_id: int,
        outcomes: Sequence[Outcome],
        now: datetime,
    ) -> None:
        """Outcomes, one statement per kind: sent, failed, blocked, unknown (no answer
        came), pending (Telegram asked to wait: again later), or error (Telegram failed:
        again later, failed after MAX_ATTEMPTS)."""
        by_status: dict[str, list[str]] = defaultdict(list)
        for outcome in outcomes:
            by_status[outcome.status].append(outcome.person)
        for status, people in by_status.items():
            values: dict[str, Any] = {"status": status, "at": now}
            if status == "error":
                tries = BroadcastDelivery.attempts + 1
                values |= {
                    "attempts": tries,
                    "status": case((tries >= MAX_ATTEMPTS, "failed"), else_="pending"),
                }
            await connection.execute(
                update(BroadcastDelivery)
                .where(
                    BroadcastDelivery.broadcast_id == broadcast_id,
                    BroadcastDelivery.person.in_(people),
                )
                .values(**values)
            )
        if by_status.get("blocked"):  # skipped from now on, in every broadcast (docs/overview.md)
            await connection.execute(
                update(Person)
                .where(Person.pseudonym.in_(by_status["blocked"]))
                .values(blocked_at=now)
            )

    async def give_back(
        self, broadcast_id: int, people: Sequence[str], status: str = "claimed"
    ) -> None:
        """Rows this sender will not send now (it is stopping): pending again. Rows marked
        `sending` come back too when the sender knows none of them went out."""
        async with self._engine.begin() as connection:
            await self._move(connection, broadcast_id, people, status, "pending", datetime.now(UTC))

    async def progress(self, broadcast_id: int) -> Progress:
        async with self._sessions() as session:
            tally = await session.scalar(
                select(Broadcast.tally).where(Broadcast.id == broadcast_id)
            )
            if tally is not None:  # long finished, its deliveries counted and deleted
                counts = Counter(json.loads(tally))
                return Progress(sum(counts.values()), dict(counts))
            rows = (
                await session.execute(
                    select(BroadcastDelivery.status, func.count())
                    .where(BroadcastDelivery.broadcast_id == broadcast_id)
                    .group_by(BroadcastDelivery.status)
                )
            ).all()
        counts = Counter({status: int(n) for status, n in rows})
        total = sum(counts.values())
        broadcast = await self.get(broadcast_id)
        if broadcast is not None and broadcast.fixed_after is not None:
            total = max(total, broadcast.planned or 0)
        return Progress(total, dict(counts))

    async def report(self, broadcast_id: int) -> Report | None:
        """Sent, blocked, unknown, and who unsubscribed within a day of receiving it."""
        broadcast = await self.get(broadcast_id)
        if broadcast is None:
            return None
        async with self._sessions() as session:
            unsubscribed = await session.scalar(
                select(func.count()).where(
                    BroadcastDelivery.broadcast_id == broadcast_id,
                    BroadcastDelivery.unsubscribed_at.is_not(None),
                )
            )
        return Report(broadcast, await self.progress(broadcast_id), int(unsubscribed or 0))

    async def prune_finished(self, now: datetime | None = None) -> int:
        """Count the deliveries of broadcasts finished over KEEP_DELIVERIES ago into their
        tally and delete them. Returns how many broadcasts were tallied."""
        cutoff = (now or datetime.now(UTC)) - KEEP_DELIVERIES
        async with self._sessions.begin() as session:
            ids = list(
                await session.scalars(
                    select(Broadcast.id).where(
                        Broadcast.status.in_(("done", "cancelled")),
                        Broadcast.finished_at < cutoff,
                        Broadcast.tally.is_(None),
                    )
                )
            )
        for broadcast_id in ids:
            progress = await self.progress(broadcast_id)
            async with self._sessions.begin() as session:
                await session.execute(
                    update(Broadcast)
                    .where(Broadcast.id == broadcast_id)
                    .values(tally=json.dumps(progress.counts))
                )
                await session.execute(
                    delete(BroadcastDelivery).where(BroadcastDelivery.broadcast_id == broadcast_id)
                )
        return len(ids)

    async def delivery_counts(self) -> Counter[str]:
        """Deliveries by status, all time: the tallies and the rows not yet tallied."""
        async with self._sessions() as session:
            tallies = await session.scalars(
                select(Broadcast.tally).where(Broadcast.tally.is_not(None))
            )
            counts: Counter[str] = Counter()
            for tally in tallies:
                counts.update(json.loads(tally or "{}"))
            rows = await session.execute(
                select(BroadcastDelivery.status, func.count()).group_by(BroadcastDelivery.status)
            )
            counts.update({status: int(n) for status, n in rows})
        return counts
