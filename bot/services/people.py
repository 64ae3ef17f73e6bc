"""What the bot remembers per person, keyed by pseudonym only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from models import Person


class People:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def stored_locale(self, pseudonym: str) -> str | None:
        async with self._sessions() as session:
            locale: str | None = await session.scalar(
                select(Person.locale).where(Person.pseudonym == pseudonym)
            )
            return locale

    async def set_locale(self, pseudonym: str, locale: str) -> None:
        async with self._sessions.begin() as session:
            person = await session.get(Person, pseudonym)
            if person is None:
                session.add(Person(pseudonym=pseudonym, locale=locale))
            else:
                person.locale = locale
