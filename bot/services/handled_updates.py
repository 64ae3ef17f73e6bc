"""Which Telegram updates were handled already, so a resent one is skipped (not a second
"Sent!", not a second welcome). Only ids and times: nothing about anyone.

Telegram resends a webhook update whose answer it did not get, and polling after a crash gets
again what it had not confirmed. The ids are written in the same transaction as the update's
flow state; the last ones are also kept in memory, so most updates need no read at all.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import Bound, affected, upsert_bound
from models import HandledUpdate

# Telegram keeps an unconfirmed update for 24 hours; after that it cannot come again.
KEEP = timedelta(hours=25)
IN_MEMORY = 20_000


class HandledUpdates:
    def __init__(self, engine: AsyncEngine, *, shared: bool) -> None:
        self._engine = engine
        self._record_once = upsert_bound(  # built once (see Bound): every update runs it
            engine.dialect.name, cast(Table, HandledUpdate.__table__), ("update_id", "at")
        )
        # Several instances: another one may have handled any update; always ask the database.
        self._shared = shared
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._high_water: int | None = None  # the newest id stored when we started

    async def load(self) -> None:
        async with self._engine.connect() as connection:
            self._high_water = await connection.scalar(select(func.max(HandledUpdate.update_id)))

    async def seen(self, update_id: int) -> bool:
        if self.seen_here(update_id):
            return True
        if not self._shared and (self._high_water is None or update_id > self._high_water):
            return False  # newer than anything before this start, and not seen since
        async with self._engine.connect() as connection:
            return bool(await connection.scalar(select(self.seen_query(update_id))))

    def seen_here(self, update_id: int) -> bool:
        """Handled by this process lately (no need to ask the database)."""
        return update_id in self._recent

    def seen_query(self, update_id: int) -> ColumnElement[bool]:
        """True in a query where the update was handled (by any instance)."""
        return exists().where(HandledUpdate.update_id == update_id)

    def record(self, update_id: int) -> Bound:
        """The statement that stores the id; call `committed` once it is committed."""
        values = {"update_id": update_id, "at": datetime.now(UTC)}
        return Bound(self._record_once, values, keyed=True)

    def committed(self, update_id: int) -> None:
        self._recent[update_id] = None
        if len(self._recent) > IN_MEMORY:
            self._recent.popitem(last=False)

    async def prune(self) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(HandledUpdate).where(HandledUpdate.at < datetime.now(UTC) - KEEP)
            )
        return affected(result)
