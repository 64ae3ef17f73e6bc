"""PTB persistence in our database: conversation states and drafts (user_data), encrypted.

Telegram ids never lie in the clear: rows are found by a keyed hash and the id itself is
stored encrypted, so PTB can be handed back the keys it expects after a restart.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ScalarSelect, Table, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import BasePersistence, PersistenceInput

from bot.db import Announced, Statement, execute_all, read_alone, upsert
from bot.services.identity import Identity
from bot.services.intake_form import FLOW_TIMEOUT
from models import ConversationState, Draft

ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]

# A flow's row is rewritten at least this often while it is in use, even when its state did
# not change, so `updated_at` tells when the person last did something (see `expire`).
TOUCH_EVERY = 60.0
# A draft with no flow left (its flow ended but the drop was lost) is removed after this.
ORPHAN_AFTER = 2 * FLOW_TIMEOUT


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
        self._written_states: dict[tuple[str, ConversationKey], tuple[str, float]] = {}
        # Writes PTB handed over, committed together by `commit` (one transaction per update).
        self._pending: list[Statement | Announced] = []
        self._commit_lock = asyncio.Lock()
        # Drafts read ahead with the flow state (several instances), for refresh_user_data.
        self._fetched_drafts: dict[int, dict[Any, Any]] = {}

    def _hash(self, value: object) -> str:
        return self._identity.lookup_hash(value)

    def _put(self, table: Table, **values: Any) -> None:
        self._pending.append(upsert(self._engine.dialect.name, table, values))

    def add(self, *statements: Statement | Announced) -> None:
        """Write these with the next commit."""
        self._pending.extend(statements)

    def withdraw(self, *statements: Statement | Announced) -> None:
        """Not to be written after all, if not written yet (these very objects: another
        update may have queued equal ones)."""
        self._pending = [p for p in self._pending if all(p is not s for s in statements)]

    async def commit(self, *extra: Statement | Announced) -> None:
        """Write what PTB handed over since the last commit, and `extra`, in one transaction:
        the hottest path there is (after every update)."""
        # One commit at a time: a commit may carry another chat's writes (PTB hands over all
        # it has), and that chat must not go on before they are in; the next commit takes
        # everything queued meanwhile.
        async with self._commit_lock:
            statements, self._pending = [*self._pending, *extra], []
            if not statements:
                return
            try:
                await execute_all(self._engine, *statements)
            except Exception:
                # The database may now differ from what we think we wrote: write it all again.
                self._written_users.clear()
                self._written_states.clear()
                raise

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        async with self._engine.begin() as connection:
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
        self._put(
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
        self._pending.append(delete(Draft).where(Draft.user_hash == self._hash(user_id)))

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """PTB asks before each update. With one instance memory is the truth; with several
        (shared database) another one may have moved the person's draft on: `drafted` has
        it."""
        if user_id not in self._fetched_drafts:
            return
        data = self._fetched_drafts.pop(user_id)
        user_data.clear()
        user_data.update(data)
        if data:
            self._written_users[user_id] = json.dumps(data, sort_keys=True)
        else:
            self._written_users.pop(user_id, None)

    def draft_query(self, user_id: int) -> ScalarSelect[str | None]:
        """The stored draft, as a column of the query read before an update (several
        instances); hand the value to `drafted`."""
        return select(Draft.data).where(Draft.user_hash == self._hash(user_id)).scalar_subquery()

    def state_query(self, name: str, key: tuple[int, int]) -> ScalarSelect[str | None]:
        """The stored flow state, likewise; hand the value to `stated`."""
        return (
            select(ConversationState.state)
            .where(
                ConversationState.name == name,
                ConversationState.key_hash == self._hash([name, *key]),
            )
            .scalar_subquery()
        )

    def drafted(self, user_id: int, stored: str | None) -> None:
        """The draft as stored now; PTB takes it through refresh_user_data."""
        self._fetched_drafts[user_id] = {} if stored is None else self._identity.decrypt(stored)

    def stated(self, name: str, key: tuple[int, int], stored: str | None) -> object | None:
        """The flow state as stored now (None: no flow), and remember it as written."""
        if stored is None:
            self._written_states.pop((name, key), None)
            return None
        self._written_states[(name, key)] = (stored, time.monotonic())
        state: object = json.loads(stored)
        return state

    async def any_idle(self, idle: timedelta) -> bool:
        """Whether `expire` would find anything, in any flow: asked alone (one round trip)
        before the minute's look at each flow, which most minutes finds nothing."""
        now = datetime.now(UTC)
        idle_flow = exists().where(ConversationState.updated_at < now - idle)
        orphan = exists().where(Draft.updated_at < now - ORPHAN_AFTER)
        return bool(await read_alone(self._engine, select(or_(idle_flow, orphan))))

    async def expire(
        self, name: str, idle: timedelta
    ) -> list[tuple[ConversationKey, dict[str, Any]]]:
        """End every flow idle longer than `idle`: delete its state and draft (PTB user_data)
        and return them. DELETE … RETURNING hands each flow to one caller, whichever instance."""
        now = datetime.now(UTC)
        expired: list[tuple[ConversationKey, dict[str, Any]]] = []
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                delete(ConversationState)
                .where(ConversationState.name == name, ConversationState.updated_at < now - idle)
                .returning(ConversationState.key)
            )
            for row in rows.all():
                key: ConversationKey = tuple(self._identity.decrypt(row.key))
                user_id = int(key[-1])
                draft = await connection.scalar(
                    delete(Draft)
                    .where(Draft.user_hash == self._hash(user_id))
                    .returning(Draft.data)
                )
                expired.append((key, {} if draft is None else self._identity.decrypt(draft)))
                self._written_states.pop((name, key), None)
                self._written_users.pop(user_id, None)
            await connection.execute(delete(Draft).where(Draft.updated_at < now - ORPHAN_AFTER))
        return expired

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self._engine.begin() as connection:
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
            self._written_states[(name, key)] = (json.dumps(state), time.monotonic())
        return states

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        serialised = None if new_state is None else json.dumps(new_state)
        written = self._written_states.get((name, key))
        if written is None and serialised is None:
            return  # nothing stored, nothing to store
        unchanged = written is not None and written[0] == serialised
        if unchanged and written is not None and time.monotonic() - written[1] < TOUCH_EVERY:
            return
        key_hash = self._hash([name, *key])
        if serialised is None:
            self._written_states.pop((name, key), None)
            self._pending.append(
                delete(ConversationState).where(
                    ConversationState.name == name, ConversationState.key_hash == key_hash
                )
            )
            return
        self._put(
            cast(Table, ConversationState.__table__),
            name=name,
            key_hash=key_hash,
            key=self._identity.encrypt(list(key)),
            state=serialised,
            updated_at=datetime.now(UTC),
        )
        self._written_states[(name, key)] = (serialised, time.monotonic())

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
        await self.commit()  # PTB calls this on shutdown
