"""One chat at a time across instances (PostgreSQL, several instances behind one webhook).

Inside one process PerChatUpdateProcessor keeps a chat's updates in order. When a load
balancer spreads Telegram's webhook calls over two instances, two updates of the same chat
can arrive at both at once; a short lease row in the database makes the second wait.
A lease expires on its own, so an instance killed while holding one blocks nobody for long.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Executable, Table, delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.db import upsert
from bot.services.identity import Identity
from models import ChatLease

LEASE = timedelta(seconds=30)


class ChatLeases:
    def __init__(self, engine: AsyncEngine, identity: Identity) -> None:
        self._engine = engine
        self._identity = identity
        self.owner = uuid.uuid4().hex  # this instance

    def _key(self, chat_id: int) -> str:
        return self._identity.keyed_hash(f"lease:{chat_id}")

    async def try_acquire(self, connection: AsyncConnection, chat_id: int) -> bool:
        """Take the chat for this instance, in the caller's transaction, if nobody holds it."""
        now = datetime.now(UTC)
        statement = upsert(
            self._engine.dialect.name,
            cast(Table, ChatLease.__table__),
            {"key_hash": self._key(chat_id), "owner": self.owner, "until": now + LEASE},
            where=(ChatLease.until < now) | (ChatLease.owner == self.owner),
        ).returning(ChatLease.key_hash)
        return (await connection.execute(statement)).first() is not None

    def release(self, chat_id: int) -> Executable:
        """The statement that gives the chat back (committed with the update's writes)."""
        return delete(ChatLease).where(
            ChatLease.key_hash == self._key(chat_id), ChatLease.owner == self.owner
        )
