"""Runs the real Application (the production factory) against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.app import QorgauApplication
from bot.compose import build_application
from bot.polling import poll
from bot.settings import Settings
from tests.botapi import BotApi, User


async def ended(task: asyncio.Task[Any], timeout: float) -> None:
    """Wait for a running bot's task to end. Not `asyncio.wait_for`: after its timeout that
    waits, with no bound, for the cancelled task to wind down, and a stop stuck that way
    would hang the whole run instead of failing one test."""
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=5)
        raise AssertionError(f"the bot did not stop within {timeout} s")
    task.result()


class Harness:
    def __init__(self, api: BotApi, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.app: QorgauApplication | None = None
        self._last_pushed = 0

    async def start(self) -> QorgauApplication:
        app = build_application(self.settings)
        # The production polling loop (bot/polling.py), minus the signal handling.
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(poll(app, self._stop))
        deadline = time.monotonic() + 30
        while not app.running:
            if self._task.done():
                self._task.result()  # raises what went wrong
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not start")
            await asyncio.sleep(0.01)
        self.app = app
        return app

    async def stop(self) -> None:
        app, self.app = self.app, None
        if app is None:
            return
        self._stop.set()
        await ended(self._task, 30)

    async def restart(self) -> QorgauApplication:
        await self.stop()
        return await self.start()

    def pushed(self, update_id: int) -> None:
        self._last_pushed = max(self._last_pushed, update_id)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until the bot has fully handled every update pushed so far."""
        deadline = time.monotonic() + timeout
        while (
            self.app is None
            or self.app.last_update_id < self._last_pushed
            or self.app.in_flight
            or not self.app.update_queue.empty()
        ):
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not handle every update in time")
            await asyncio.sleep(0.005)

    async def until(self, check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
        """Wait until `check` holds (for work the bot does on its own, like the outbox)."""
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)

    async def outbox_empty(self) -> bool:
        from sqlalchemy import func, select

        from models import OutboxMessage

        assert self.app is not None
        async with self.app.services.sessions() as session:
            pending = await session.scalar(
                select(func.count()).where(OutboxMessage.status == "pending")
            )
        return pending == 0

    def volunteer(self, user_id: int, name: str = "Dana", chat_id: int | None = None) -> Volunteer:
        return Volunteer(
            self, User(user_id, first_name=name), chat_id or self.settings.staff_chat_id
        )

    def person(self, user_id: int, language_code: str | None = "en", **kw: Any) -> Person:
        return Person(self, User(user_id, language_code=language_code, **kw))


class Person:
    """One person in their private chat with the bot: writes, taps buttons, reads the screen."""

    def __init__(self, harness: Harness, user: User) -> None:
        self.h = harness
        self.user = user

    @property
    def api(self) -> BotApi:
        return self.h.api

    async def send(self, text: str, **extra: Any) -> dict[str, Any]:
        message = await self.api.send(self.user, text, **extra)
        self.h.pushed(self.api._updates[-1]["update_id"])
        await self.h.settle()
        return message

    async def press_on(self, message: dict[str, Any], label: str) -> bool:
        """Press the button with this visible text on `message`, if it has one."""
        for text, data in self.api.buttons(message):
            if text == label:
                await self.api.press(self.user, message, data)
                self.h.pushed(self.api._updates[-1]["update_id"])
                await self.h.settle()
                return True
        return False

    async def press_data(self, data: str) -> None:
        """Send a button press with any callback data at all on the screen, as a forged or
        modified client can (Telegram does not check it against the buttons shown)."""
        await self.api.press(self.user, self.screen, data)
        self.h.pushed(self.api._updates[-1]["update_id"])
        await self.h.settle()

    async def tap(self, label: str) -> None:
        """Press the button with this visible text on the newest message that has it."""
        for message in sorted(
            self.api.messages[self.user.id].values(), key=lambda m: -m["message_id"]
        ):
            if await self.press_on(message, label):
                return
        raise AssertionError(f"no button {label!r}; the screen shows {self.buttons}")

    @property
    def screen(self) -> dict[str, Any]:
        return self.api.screen(self.user.id)

    @property
    def text(self) -> str:
        return str(self.screen.get("text") or self.screen.get("caption") or "")

    @property
    def buttons(self) -> list[str]:
        return [text for text, _ in self.api.buttons(self.screen)]

    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.api.messages[self.user.id].values() if m["from"]["is_bot"]]


class Volunteer(Person):
    """A staff member: private chat with the bot like anyone, plus the staff chat."""

    def __init__(self, harness: Harness, user: User, staff_chat: int) -> None:
        super().__init__(harness, user)
        self.staff_chat = staff_chat

    def staff_messages(self, chat: int | None = None) -> list[dict[str, Any]]:
        chat = chat or self.staff_chat
        return sorted(self.api.messages[chat].values(), key=lambda m: m["message_id"])

    def card(self, code: str, chat: int | None = None) -> dict[str, Any]:
        """The newest card for `code` in the staff chat (a message with buttons naming it)."""
        cards = [
            m
            for m in self.staff_messages(chat)
            if m["from"]["is_bot"] and m.get("text", "").startswith(f"<b>{code}</b>")
        ]
        assert cards, f"no card for {code} in the staff chat"
        return cards[-1]

    async def press(self, message: dict[str, Any], label: str) -> None:
        if not await self.press_on(message, label):
            raise AssertionError(f"no button {label!r} on {self.api.buttons(message)}")

    async def write_in_staff_chat(
        self,
        text: str = "",
        *,
        reply_to: dict[str, Any] | None = None,
        thread: int | None = None,
        chat: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        message = await self.api.send_in_group(
            self.user, chat or self.staff_chat, text, reply_to=reply_to, thread=thread, **extra
        )
        self.h.pushed(self.api._updates[-1]["update_id"])
        await self.h.settle()
        return message
