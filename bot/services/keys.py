"""Moving what is stored to the newest SECRET_KEY (SECRET_KEYS_OLD holds the ones before).

Encrypted values are re-encrypted with MultiFernet.rotate. Pseudonyms are HMACs and cannot
be turned back into ids: a person's rows move to their new pseudonym wherever the database
holds their id encrypted (a reply address, a subscription, a flow in progress), and the rest
when they next write (`adopt`), for as long as SECRET_KEYS_OLD still holds the old key.

Every change is a compare-and-set on the value read, so this runs safely while the bot does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute, aliased

from bot.db import affected
from bot.services.identity import Identity
from bot.services.outbox import PERSON_CHAT_FIELDS
from models import (
    BroadcastDelivery,
    Case,
    ChatMessage,
    ConversationState,
    Draft,
    OutboxMessage,
    Person,
)

log = logging.getLogger("qorgau.keys")
BATCH = 500

# Every column that holds a value encrypted with the key, by its table's primary key.
ENCRYPTED: list[tuple[InstrumentedAttribute[Any], InstrumentedAttribute[Any]]] = [
    (Case.id, Case.reply_to),
    (Person.pseudonym, Person.chat),
    (OutboxMessage.id, OutboxMessage.payload),  # JSON: the fields in PERSON_CHAT_FIELDS
]
# Columns that hold a pseudonym.
PSEUDONYMS = [Case.person, ChatMessage.person]


@dataclass
class Rotated:
    values: int = 0  # encrypted values moved to the newest key
    unreadable: int = 0  # values no key decrypts: left as they are
    people: int = 0  # people whose rows now carry the newest pseudonym
    flows: int = 0  # flows in progress and drafts moved (or dropped when unreadable)


class Keys:
    def __init__(self, engine: AsyncEngine, identity: Identity) -> None:
        self._engine = engine
        self._identity = identity
        self._adopted: set[int] = set()

    # -- one person ------------------------------------------------------------------------

    async def adopt(self, telegram_id: int) -> None:
        """Move the person's rows keyed by an older key to their newest pseudonym (once per
        person and process; nothing to do without SECRET_KEYS_OLD)."""
        if not self._identity.has_old_keys or telegram_id in self._adopted:
            return
        async with self._engine.begin() as connection:
            await self._move(connection, telegram_id)
        if len(self._adopted) > 100_000:
            self._adopted.clear()
        self._adopted.add(telegram_id)

    async def _move(self, connection: AsyncConnection, telegram_id: int) -> bool:
        old = self._identity.old_pseudonyms(telegram_id)
        new = self._identity.pseudonym(telegram_id)
        moved = 0
        for column in PSEUDONYMS:
            result = await connection.execute(
                update(column.class_).where(column.in_(old)).values({column.key: new})
            )
            moved += affected(result)
        other = aliased(BroadcastDelivery)
        taken = exists().where(
            other.broadcast_id == BroadcastDelivery.broadcast_id, other.person == new
        )
        await connection.execute(
            update(BroadcastDelivery)
            .where(BroadcastDelivery.person.in_(old), ~taken)
            .values(person=new)
        )
        has_new = await connection.scalar(select(exists().where(Person.pseudonym == new)))
        for pseudonym in old:
            if has_new:  # chosen again under the new key: the newer choice stands
                await connection.execute(delete(Person).where(Person.pseudonym == pseudonym))
                continue
            result = await connection.execute(
                update(Person).where(Person.pseudonym == pseudonym).values(pseudonym=new)
            )
            has_new = affected(result) > 0
            moved += affected(result)
        return moved > 0

    # -- everything ------------------------------------------------------------------------

    async def rotate(self) -> Rotated:
        """Move everything stored to the newest key: flows, pseudonyms, encrypted values."""
        done = Rotated(flows=await self.prepare_flows())
        for telegram_id in await self._known_ids():
            async with self._engine.begin() as connection:
                done.people += await self._move(connection, telegram_id)
        for key, column in ENCRYPTED:
            moved, unreadable = await self._reencrypt(key, column)
            done.values, done.unreadable = done.values + moved, done.unreadable + unreadable
        return done

    async def _known_ids(self) -> set[int]:
        """Telegram ids the database holds encrypted (private chat id = the person's id)."""
        ids: set[int] = set()
        async with self._engine.connect() as connection:
            for column in (Case.reply_to, Person.chat, Draft.user):
                for (token,) in await connection.execute(select(column).where(column.is_not(None))):
                    ids.update(self._ids(token))
        return ids

    def _ids(self, token: str | None) -> Iterable[int]:
        if token is None:
            return []
        try:
            value = self._identity.decrypt(token)
        except ValueError:
            return []
        return [int(value)] if isinstance(value, int) else []

    async def _reencrypt(
        self, key: InstrumentedAttribute[Any], column: InstrumentedAttribute[Any]
    ) -> tuple[int, int]:
        moved = unreadable = 0
        after: Any = None
        while True:
            query = select(key, column).where(column.is_not(None)).order_by(key).limit(BATCH)
            if after is not None:
                query = query.where(key > after)
            async with self._engine.begin() as connection:
                rows = (await connection.execute(query)).all()
                for row_key, value in rows:
                    new = self._rotated(value, json_fields=column is OutboxMessage.payload)
                    if new is None:
                        unreadable += 1
                    elif new != value:
                        moved += await self._set(connection, key, row_key, column, value, new)
            if len(rows) < BATCH:
                return moved, unreadable
            after = rows[-1][0]

    async def _set(
        self,
        connection: AsyncConnection,
        key: InstrumentedAttribute[Any],
        row_key: Any,
        column: InstrumentedAttribute[Any],
        old: str,
        new: str,
    ) -> int:
        """Compare-and-set: a value the bot changed meanwhile is left to the bot."""
        where: ColumnElement[bool] = (key == row_key) & (column == old)
        result = await connection.execute(
            update(column.class_).where(where).values({column.key: new})
        )
        return affected(result)

    def _rotated(self, value: str, *, json_fields: bool) -> str | None:
        """The value encrypted with the newest key (None: no key reads it)."""
        try:
            if not json_fields:
                return self._identity.rotate(value)
            data = json.loads(value)
            for name in PERSON_CHAT_FIELDS:
                if isinstance(data.get(name), str):
                    data[name] = self._identity.rotate(data[name])
            return json.dumps(data)
        except ValueError:
            return None

    # -- flows in progress (PTB persistence) -------------------------------------------------

    async def prepare_flows(self) -> int:
        """Before persistence loads them at start: drafts and flow states move to the newest
        key (encryption and lookup hash), and those no key reads are dropped (their person
        cannot be told apart any more; a flow is only minutes of work). Returns how many
        rows changed."""
        changed = 0
        async with self._engine.begin() as connection:
            drafts = (await connection.execute(select(Draft))).all()
            for draft in drafts:
                changed += await self._prepare_draft(connection, draft)
            states = (await connection.execute(select(ConversationState))).all()
            for state in states:
                changed += await self._prepare_state(connection, state)
        if changed:
            log.warning("flows moved to the newest SECRET_KEY or dropped: %s", changed)
        return changed

    async def _prepare_draft(self, connection: AsyncConnection, draft: Any) -> int:
        mine = Draft.user_hash == draft.user_hash
        try:
            user_id = int(self._identity.decrypt(draft.user))
            data = self._identity.decrypt(draft.data)
        except ValueError:
            await connection.execute(delete(Draft).where(mine))
            return 1
        user_hash = self._identity.lookup_hash(user_id)
        if user_hash == draft.user_hash:
            return 0  # keyed, hence encrypted, with the newest key already
        await connection.execute(delete(Draft).where(mine))
        # A row keyed with the newest key was written after this one: it stands.
        if not await connection.scalar(select(exists().where(Draft.user_hash == user_hash))):
            values = {"user": self._identity.encrypt(user_id), "data": self._identity.encrypt(data)}
            await connection.execute(
                insert(Draft).values(user_hash=user_hash, updated_at=draft.updated_at, **values)
            )
        return 1

    async def _prepare_state(self, connection: AsyncConnection, state: Any) -> int:
        name: str = state.name

        def row(key_hash: str) -> ColumnElement[bool]:
            return and_(ConversationState.name == name, ConversationState.key_hash == key_hash)

        try:
            key = list(self._identity.decrypt(state.key))
        except ValueError:
            await connection.execute(delete(ConversationState).where(row(state.key_hash)))
            return 1
        key_hash = self._identity.lookup_hash([state.name, *key])
        if key_hash == state.key_hash:
            return 0
        await connection.execute(delete(ConversationState).where(row(state.key_hash)))
        if not await connection.scalar(select(exists().where(row(key_hash)))):
            await connection.execute(
                insert(ConversationState).values(
                    name=state.name,
                    key_hash=key_hash,
                    key=self._identity.encrypt(key),
                    state=state.state,
                    updated_at=state.updated_at,
                )
            )
        return 1
