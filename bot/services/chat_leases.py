"""One chat at a time across instances (PostgreSQL, several instances behind one webhook).

Inside one process PerChatUpdateProcessor keeps a chat's updates in order. When a load
balancer spreads Telegram's webhook calls over two instances, two updates of the same chat
can arrive at both at once; a short lease row in the database makes the second wait.
A lease expires on its own, so an instance killed while holding one blocks nobody for long.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import upsert
from bot.services.identity import Identity
from models import ChatLease

LEASE = timedelta(seconds=30)
POLL_SECONDS = 0.02


class ChatLeases:
    def __init__(self, engine: AsyncEngine, identity: Identity) -> None:
        self._engine = engine
        self._identity = identity
        self.owner = uuid.uuid4().hex  # this instance

    def _key(self, chat_id: int) -> str:
        return self._identity.keyed_hash(f"lease:{chat_id}")

    async def acquire(self, chat_id: int) -> None:
        """Wait until this instance holds the chat (at most about one lease period)."""
        key = self._key(chat_id)
        while True:
            now = datetime.now(UTC)
            statement = upsert(
                self._engine.dialect.name,
                cast(Table, ChatLease.__table__),
                {"key_hash": key, "owner": self.owner, "until": now + LEASE},
                where=(ChatLease.until < now) | (ChatLease.owner == self.owner),
            ).returning(ChatLease.key_hash)
            async with self._engine.begin() as connection:
                if (await connection.execute(statement)).first() is not None:
                    return
            await asyncio.sleep(POLL_SECONDS)

    async def release(self, chat_id: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(ChatLease).where(
                    ChatLease.key_hash == self._key(chat_id), ChatLease.owner == self.owner
                )
            )
