"""Which Telegram updates were handled already, so a resent one is skipped (not a second
"Sent!", not a second welcome). Only ids and times: nothing about anyone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import affected, upsert
from models import HandledUpdate

# Telegram keeps an unconfirmed update for 24 hours; after that it cannot come again.
KEEP = timedelta(hours=25)


class HandledUpdates:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def seen(self, update_id: int) -> bool:
        async with self._engine.connect() as connection:
            found = await connection.scalar(
                select(HandledUpdate.update_id).where(HandledUpdate.update_id == update_id)
            )
        return found is not None

    async def record(self, update_id: int) -> None:
        statement = upsert(
            self._engine.dialect.name,
            cast(Table, HandledUpdate.__table__),
            {"update_id": update_id, "at": datetime.now(UTC)},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def prune(self) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(HandledUpdate).where(HandledUpdate.at < datetime.now(UTC) - KEEP)
            )
        return affected(result)
