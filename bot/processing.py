"""Updates of one chat in order, different chats at the same time.

PTB's ConversationHandler is not safe with concurrent updates of the same chat, so each chat
(or user, where there is no chat; in a group, each member) gets a lock; the rest run
concurrently up to a bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._waiting: dict[Hashable, int] = {}

    @staticmethod
    def key(update: object) -> int | None:
        if isinstance(update, Update):
            if update.effective_chat is not None:
                return update.effective_chat.id
            if update.effective_user is not None:
                return update.effective_user.id
        return None

    def queued(self, key: int) -> int:
        """Updates of this chat being handled or waiting (this one included)."""
        return self._waiting.get(key, 0)

    @classmethod
    def lock_key(cls, update: object) -> Hashable | None:
        """What must not run at once: a private chat's updates; in a group, one member's
        (the flows there keep state per member, and volunteers answering different cases in
        one staff group must not wait for each other)."""
        key = cls.key(update)
        if isinstance(update, Update) and update.effective_user is not None:
            chat = update.effective_chat
            if chat is not None and chat.type != "private":
                return (key, update.effective_user.id)
        return key

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        key = self.lock_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody else queued for this chat: free the lock
                del self._waiting[key]
                del self._locks[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
