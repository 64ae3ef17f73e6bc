"""Message ids (never text) of a person's chat, for "Exit and clear chat" (safety rule 3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import Bound, affected, execute_all
from models import ChatMessage

# Built once (see Bound), on the table (in a session, cheaper than the ORM's bulk insert):
# each message to a person runs it.
_KEEP = insert(cast(Table, ChatMessage.__table__))

# Telegram lets a bot delete private-chat messages for 48 hours after they were sent.
DELETABLE_FOR = timedelta(hours=48)


class ChatLog:
    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine = engine
        self._sessions = sessions

    def remembered(self, pseudonym: str, message_ids: Iterable[int]) -> Bound:
        """The statement that keeps message ids (commit it with the cause of the messages)."""
        return self.remembered_each((pseudonym, m) for m in message_ids)

    def remembered_each(self, messages: Iterable[tuple[str, int]]) -> Bound:
        """One statement for messages to several people (pseudonym, message id)."""
        now = datetime.now(UTC)
        rows = [{"person": person, "message_id": m, "at": now} for person, m in messages]
        return Bound(_KEEP, rows, keyed=True)  # a list even for one: no RETURNING of its id

    async def remember(self, pseudonym: str, message_ids: Iterable[int]) -> None:
        await execute_all(self._engine, self.remembered(pseudonym, message_ids))

    async def deletable(self, pseudonym: str) -> list[int]:
        since = datetime.now(UTC) - DELETABLE_FOR
        async with self._sessions() as session:
            ids = await session.scalars(
                select(ChatMessage.message_id).where(
                    ChatMessage.person == pseudonym, ChatMessage.at >= since
                )
            )
            return sorted(set(ids))

    async def forget(self, pseudonym: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(ChatMessage).where(ChatMessage.person == pseudonym))

    async def prune(self) -> int:
        since = datetime.now(UTC) - DELETABLE_FOR
        async with self._sessions.begin() as session:
            result = await session.execute(delete(ChatMessage).where(ChatMessage.at < since))
        return int(affected(result))
