"""Awareness broadcasts: who gets which version, and a record of every delivery so that a
crash resumes where it stopped and nobody receives a broadcast twice.

A delivery row goes pending -> claimed (a batch, by one sender) -> sending (written just
before its one message goes out) -> sent, failed, blocked, or pending again (Telegram asked
to wait). After a crash a claimed row goes back to pending (nothing was sent); a sending row
becomes unknown and is not sent again: only the message on its way at that moment is in
doubt, and the Bot API cannot say whether it arrived.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import affected
from bot.services.identity import Identity
from bot.services.staff import audit
from models import Broadcast, BroadcastDelivery, Case, Person

# A batch is sent within a second or two and one message within 20 s (timeouts): rows
# claimed or sending for longer than this belong to a sender that died.
IN_FLIGHT_GRACE = timedelta(seconds=30)
# Telegram answering with an error of its own (5xx) this often for one person: given up.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Recipient:
    person: str
    chat_id: int
    version: dict[str, Any]
    locale: str


@dataclass(frozen=True)
class Progress:
    total: int
    counts: dict[str, int]

    @property
    def left(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("pending", "claimed", "sending"))

    @property
    def done(self) -> int:
        return self.total - self.left


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

    async def subscriber_count(self) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Person)
                .where(Person.subscribed.is_(True), Person.blocked_at.is_(None))
            )
        return int(count or 0)

    async def start(
        self, admin_id: int, admin_chat_id: int, versions: dict[str, dict[str, Any]]
    ) -> int:
        """Create the broadcast and fix its recipients: today's subscribers."""
        async with self._sessions.begin() as session:
            broadcast = Broadcast(
                created_by=admin_id, admin_chat_id=admin_chat_id, versions=json.dumps(versions)
            )
            session.add(broadcast)
            await session.flush()
            people = await session.scalars(
                select(Person.pseudonym).where(
                    Person.subscribed.is_(True), Person.blocked_at.is_(None)
                )
            )
            session.add_all(BroadcastDelivery(broadcast_id=broadcast.id, person=p) for p in people)
            audit(session, admin_id, "broadcast", detail=f"#{broadcast.id}")
            return broadcast.id

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
        stale = BroadcastDelivery.at < now - IN_FLIGHT_GRACE
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

    async def claim(self, broadcast_id: int, limit: int) -> list[Recipient]:
        """The next recipients, claimed for this sender. People who unsubscribed, blocked
        the bot or have an open case are skipped."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.status != "running":
                return []
            versions: dict[str, dict[str, Any]] = json.loads(broadcast.versions)
            rows = (
                await session.execute(
                    select(BroadcastDelivery, Person)
                    .join(Person, Person.pseudonym == BroadcastDelivery.person, isouter=True)
                    .where(
                        BroadcastDelivery.broadcast_id == broadcast_id,
                        BroadcastDelivery.status == "pending",
                    )
                    .order_by(BroadcastDelivery.person)
                    .limit(limit)
                )
            ).all()
            open_cases = set(
                await session.scalars(
                    select(Case.person).where(
                        Case.status == "open",
                        Case.person.in_([d.person for d, _ in rows]),
                    )
                )
            )
            recipients = []
            for delivery, person in rows:
                skip = (
                    person is None
                    or not person.subscribed
                    or person.chat is None
                    or person.blocked_at is not None
                    or delivery.person in open_cases
                )
                # Compare-and-set: another instance may have claimed this row meanwhile.
                claimed = await session.execute(
                    update(BroadcastDelivery)
                    .where(
                        BroadcastDelivery.broadcast_id == broadcast_id,
                        BroadcastDelivery.person == delivery.person,
                        BroadcastDelivery.status == "pending",
                    )
                    .values(status="skipped" if skip else "claimed", at=now)
                    .execution_options(synchronize_session=False)
                )
                if skip or affected(claimed) != 1:
                    continue
                assert person is not None and person.chat is not None
                version = versions.get(person.locale or "") or versions.get(self._default)
                version = version or next(iter(versions.values()))
                chat_id = int(self._identity.decrypt(person.chat))
                locale = person.locale or self._default
                recipients.append(Recipient(delivery.person, chat_id, version, locale))
            return recipients

    def _row(self, broadcast_id: int, person: str) -> ColumnElement[bool]:
        return and_(
            BroadcastDelivery.broadcast_id == broadcast_id, BroadcastDelivery.person == person
        )

    async def sending(self, broadcast_id: int, person: str) -> bool:
        """Mark a claimed row as going out now; False if it is no longer ours to send (its
        claim ran out and someone else took it)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(BroadcastDelivery)
                .where(self._row(broadcast_id, person), BroadcastDelivery.status == "claimed")
                .values(status="sending", at=datetime.now(UTC))
            )
        return affected(result) == 1

    async def record(self, broadcast_id: int, person: str, status: str, *also: Executable) -> None:
        """Store one outcome, with `also` in the same transaction: sent, failed, blocked,
        unknown (no answer came), pending (Telegram asked to wait: again later), or error
        (Telegram failed: again later, failed after MAX_ATTEMPTS)."""
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": status, "at": now}
        if status == "error":
            tries = BroadcastDelivery.attempts + 1
            values |= {
                "attempts": tries,
                "status": case((tries >= MAX_ATTEMPTS, "failed"), else_="pending"),
            }
        async with self._engine.begin() as connection:
            await connection.execute(
                update(BroadcastDelivery).where(self._row(broadcast_id, person)).values(**values)
            )
            if status == "blocked":  # skipped from now on, in every broadcast (SPEC "Admin")
                await connection.execute(
                    update(Person).where(Person.pseudonym == person).values(blocked_at=now)
                )
            for statement in also:
                await connection.execute(statement)

    async def give_back(self, broadcast_id: int, people: list[str]) -> None:
        """Claimed rows this sender will not send now (it is stopping): pending again."""
        if not people:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                update(BroadcastDelivery)
                .where(
                    BroadcastDelivery.broadcast_id == broadcast_id,
                    BroadcastDelivery.person.in_(people),
                    BroadcastDelivery.status == "claimed",
                )
                .values(status="pending", at=datetime.now(UTC))
            )

    async def progress(self, broadcast_id: int) -> Progress:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(BroadcastDelivery.status, func.count())
                    .where(BroadcastDelivery.broadcast_id == broadcast_id)
                    .group_by(BroadcastDelivery.status)
                )
            ).all()
        counts = Counter({status: int(n) for status, n in rows})
        return Progress(sum(counts.values()), dict(counts))
