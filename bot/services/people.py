"""What the bot remembers per person, keyed by pseudonym only."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from sqlalchemy import ScalarSelect, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import BindParameter

from bot.db import affected
from bot.services.broadcasts import REPORT_WINDOW
from bot.services.outbox import enqueue, unlink_chats
from models import Broadcast, BroadcastDelivery, Case, ChatMessage, HeldChat, Person

# Retention may change a language behind our back; this bounds how long we lag. (Another
# instance's change is seen at once: QorgauApplication reads it again before each update.)
LOCALE_CACHE_SECONDS = 60.0


class People:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # Every update asks for the person's language: keep answers for a while
        # (pseudonym -> (locale or None, expiry)). Changes made here update it at once.
        self._locales: dict[str, tuple[str | None, float]] = {}

    async def stored_locale(self, pseudonym: str) -> str | None:
        cached = self._locales.get(pseudonym)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self._sessions() as session:
            locale: str | None = await session.scalar(
                select(Person.locale).where(Person.pseudonym == pseudonym)
            )
        self.remember_locale(pseudonym, locale)
        return locale

    def locale_query(self, pseudonym: str | BindParameter[str]) -> ScalarSelect[str | None]:
        """The stored language, as a column of a bigger query (see `remember_locale`)."""
        return select(Person.locale).where(Person.pseudonym == pseudonym).scalar_subquery()

    def remember_locale(self, pseudonym: str, locale: str | None) -> None:
        """Keep a language read by `locale_query` (fresh from the database) in the cache."""
        if len(self._locales) > 50_000:
            self._locales.clear()
        self._locales[pseudonym] = (locale, time.monotonic() + LOCALE_CACHE_SECONDS)

    async def set_locale(self, pseudonym: str, locale: str) -> None:
        async with self._sessions.begin() as session:
            person = await session.get(Person, pseudonym)
            if person is None:
                session.add(Person(pseudonym=pseudonym, locale=locale))
            else:
                person.locale = locale
        self._locales.pop(pseudonym, None)

    async def subscribed(self, pseudonym: str) -> bool:
        async with self._sessions() as session:
            person = await session.get(Person, pseudonym)
            return bool(person and person.subscribed)

    async def subscribe(self, pseudonym: str, chat: str, locale: str) -> None:
        """Opt in to awareness messages; `chat` is the encrypted chat id."""
        async with self._sessions.begin() as session:
            person = await session.get(Person, pseudonym)
            if person is None:
                person = Person(pseudonym=pseudonym)
                session.add(person)
            person.subscribed, person.chat, person.blocked_at = True, chat, None
            person.locale = person.locale or locale
        self._locales.pop(pseudonym, None)

    async def share_region(self, pseudonym: str, region: str | None) -> None:
        """The region the person chose to share for regional news (None: they declined)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Person)
                .where(Person.pseudonym == pseudonym, Person.subscribed.is_(True))
                .values(region=region)
            )

    async def unsubscribe(self, pseudonym: str) -> None:
        """Drop the chat and the region; a campaign received within a day counts this
        (its report shows how many left after it)."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            person = await session.get(Person, pseudonym)
            if person is None or not person.subscribed:
                return
            person.subscribed, person.chat, person.region = False, None, None
            recent = select(Broadcast.id).where(Broadcast.started_at >= now - REPORT_WINDOW)
            await session.execute(
                update(BroadcastDelivery)
                .where(
                    BroadcastDelivery.broadcast_id.in_(recent),
                    BroadcastDelivery.person == pseudonym,
                    BroadcastDelivery.status == "sent",
                    BroadcastDelivery.at >= now - REPORT_WINDOW,
                )
                .values(unsubscribed_at=now)
            )

    async def forget(self, pseudonym: str) -> int:
        """Safety rule 8: cut every link between the person and their cases; drop their row.

        The cases stay, anonymised, for statistics; open ones are closed because nobody can
        be answered any more. Their chat leaves the outbox too, and the broadcasts they got
        count them under a random name. Returns how many cases were unlinked.
        """
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            still_open = await session.scalars(
                select(Case.id).where(Case.person == pseudonym, Case.status == "open")
            )
            for case_id in still_open.all():  # the card says so at once; its topic closes
                enqueue(session, "card_update", case_id, said="forgotten")
            await session.execute(
                update(Case)
                .where(Case.person == pseudonym, Case.status == "open")
                .values(status="closed", closed_at=now, closed_by="forgotten")
            )
            case_ids = list(await session.scalars(select(Case.id).where(Case.person == pseudonym)))
            result = await session.execute(
                update(Case)
                .where(Case.person == pseudonym)
                .values(person=None, reply_to=None, person_wrote_at=None)
            )
            await unlink_chats(session, case_ids)
            await session.execute(
                update(BroadcastDelivery)
                .where(BroadcastDelivery.person == pseudonym)
                .values(person="forgotten:" + secrets.token_hex(8))
            )
            await session.execute(delete(Person).where(Person.pseudonym == pseudonym))
            await session.execute(delete(ChatMessage).where(ChatMessage.person == pseudonym))
            await session.execute(delete(HeldChat).where(HeldChat.person == pseudonym))
        self._locales.pop(pseudonym, None)
        return int(affected(result))
