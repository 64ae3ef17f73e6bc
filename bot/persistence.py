"""PTB persistence in our database: conversation states and drafts (user_data), encrypted.

Telegram ids never lie in the clear: rows are found by a keyed hash and the id itself is
stored encrypted, so PTB can be handed back the keys it expects after a restart.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import BasePersistence, PersistenceInput

from bot.db import upsert
from bot.services.identity import Identity
from bot.services.intake_form import FLOW_TIMEOUT
from models import ConversationState, Draft

ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]

# PTB does not persist conversation timeouts: a flow idle longer than the timeout when the
# bot starts would have ended anyway, so it is dropped (its buttons then say "expired").
STALE_AFTER = FLOW_TIMEOUT


class DatabasePersistence(BasePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    def __init__(self, engine: AsyncEngine, identity: Identity) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            # We write through after every update (QorgauApplication.process_update).
            update_interval=60,
        )
        self._engine = engine
        self._identity = identity
        # What the database holds now, so unchanged data is not written again: PTB hands
        # over every user and conversation an update touched, changed or not.
        self._written_users: dict[int, str] = {}
        self._written_states: dict[tuple[str, ConversationKey], str] = {}

    def _hash(self, value: object) -> str:
        return self._identity.keyed_hash("persistence:" + json.dumps(value))

    async def _put(self, table: Table, **values: Any) -> None:
        # One statement per write: these run after every update, the hottest path there is.
        statement = upsert(self._engine.dialect.name, table, values)
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        cutoff = datetime.now(UTC) - STALE_AFTER
        async with self._engine.begin() as connection:
            await connection.execute(delete(Draft).where(Draft.updated_at < cutoff))
            rows = (await connection.execute(select(Draft.user, Draft.data))).all()
        data = {
            int(self._identity.decrypt(row.user)): self._identity.decrypt(row.data) for row in rows
        }
        self._written_users = {
            user: json.dumps(value, sort_keys=True) for user, value in data.items()
        }
        return data

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        if not data:
            await self.drop_user_data(user_id)
            return
        serialised = json.dumps(data, sort_keys=True)
        if self._written_users.get(user_id) == serialised:
            return
        await self._put(
            cast(Table, Draft.__table__),
            user_hash=self._hash(user_id),
            user=self._identity.encrypt(user_id),
            data=self._identity.encrypt(data),
            updated_at=datetime.now(UTC),
        )
        self._written_users[user_id] = serialised

    async def drop_user_data(self, user_id: int) -> None:
        if self._written_users.pop(user_id, None) is None:
            return  # nothing stored for this person
        async with self._engine.begin() as connection:
            await connection.execute(delete(Draft).where(Draft.user_hash == self._hash(user_id)))

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        cutoff = datetime.now(UTC) - STALE_AFTER
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(ConversationState).where(
                    ConversationState.name == name, ConversationState.updated_at < cutoff
                )
            )
            rows = (
                await connection.execute(
                    select(ConversationState.key, ConversationState.state).where(
                        ConversationState.name == name
                    )
                )
            ).all()
        states: ConversationDict = {
            tuple(self._identity.decrypt(row.key)): json.loads(row.state) for row in rows
        }
        for key, state in states.items():
            self._written_states[(name, key)] = json.dumps(state)
        return states

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        serialised = None if new_state is None else json.dumps(new_state)
        if self._written_states.get((name, key)) == serialised:
            return
        key_hash = self._hash([name, *key])
        if serialised is None:
            self._written_states.pop((name, key), None)
            async with self._engine.begin() as connection:
                await connection.execute(
                    delete(ConversationState).where(
                        ConversationState.name == name, ConversationState.key_hash == key_hash
                    )
                )
            return
        await self._put(
            cast(Table, ConversationState.__table__),
            name=name,
            key_hash=key_hash,
            key=self._identity.encrypt(list(key)),
            state=serialised,
            updated_at=datetime.now(UTC),
        )
        self._written_states[(name, key)] = serialised

    # Not kept: bot-wide and chat-wide data, and callback data (we use short string codes).
    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def flush(self) -> None:
        return None
