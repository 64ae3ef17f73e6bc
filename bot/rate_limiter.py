"""The one way out: every Bot API call the bot makes passes here (PTB's rate limiter hook).

Telegram's flood limits are per chat (about one message a second in a private chat, with a
short burst; 20 a minute in a group) and overall (about 30 a second). PTB's AIORateLimiter
paces only groups and the overall rate, and on a 429 it stops *every* request until the wait
is over: one throttled chat then holds up everyone's replies. Here each chat has its own pace,
and a 429 pauses only the chat that got it; the call is tried again a few times.

PTB has no per-chat limiter and aiolimiter has no reservation (a call cannot learn its slot
before it waits), so the pacing is a few lines of GCRA ("virtual scheduling") written here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram_http import retry_after_seconds

log = logging.getLogger("qorgau.limiter")

PRIVATE = (1.0, 3)  # (messages a second, burst) in one private chat
GROUP = (20 / 60, 20)  # in one group or supergroup
OVERALL = (30.0, 30)  # the bot as a whole
MAX_RETRIES = 3  # a 429 is waited out and the call made again this many times
LONGEST_WAIT = 60.0  # a longer retry_after is raised to the caller (the outbox keeps it)
# How long a chat left in a hurry is remembered here (see went_quiet): long enough for what
# was claimed before the hold to come through here (within its 30 s lease), short enough
# that another instance's "they wrote again" is not missed for long.
QUIET_FOR = 30.0
SENT_LATELY = 60.0  # how long a message sent to a person is remembered here (see sent_lately)
# Calls that make a new message: these are what Telegram counts per chat.
NEW_MESSAGE = ("send", "copy", "forward")


@dataclass(frozen=True)
class Paced:
    """rate_limit_args for a caller that paces itself (the broadcaster at BROADCAST_RATE): its
    calls are counted in the overall rate (so replies to people leave room) but never held by
    it; the per-chat pace and the 429 rule still apply. `retries`: how often a 429 is waited
    out here before it is raised (the broadcaster handles its own)."""

    retries: int = 0


@dataclass(frozen=True)
class ToPerson:
    """rate_limit_args of a message the outbox sends to a person: it waits its turn like any
    other, and is not sent if the person has left in a hurry since it was claimed (it may
    have waited for the chat's pace for seconds): ChatWentQuiet is raised instead."""


class ChatWentQuiet(Exception):
    """The person left in a hurry while this message waited its turn: not sent. `for_seconds`:
    how much longer the limiter holds the chat's messages back (the outbox's hold, in the
    database, goes on until they write again)."""

    def __init__(self, for_seconds: float) -> None:
        super().__init__("the person left in a hurry")
        self.for_seconds = for_seconds


class Pace:
    """Slots at `rate` a second, `burst` of them at once (GCRA). A caller reserves a slot and
    learns how long to wait for it; reserving is synchronous, so callers are served in order."""

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.tat = 0.0  # theoretical arrival time of the next call

    def reserve(self, now: float) -> float:
        tat = max(self.tat, now)
        self.tat = tat + self.interval
        return max(0.0, tat - self.tolerance - now)

    def count(self, now: float) -> None:
        """Count a call that paces itself, in spare room only: it never makes others wait
        longer than a full burst would."""
        if self.tat - self.tolerance <= now:
            self.tat = max(self.tat, now) + self.interval

    def idle(self, now: float) -> bool:
        return self.tat <= now


class ChatRateLimiter(BaseRateLimiter[Paced | ToPerson]):
    def __init__(
        self,
        private: tuple[float, int] = PRIVATE,
        group: tuple[float, int] = GROUP,
        overall: tuple[float, int] = OVERALL,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self._private, self._group = private, group
        self._overall = Pace(*overall)
        self._chats: dict[int | str, Pace] = {}
        self._paused: dict[int | str, float] = {}  # chat -> monotonic time its 429 ends
        self.max_retries = max_retries
        self.retried = 0  # 429s waited out (health and tests)
        # Private chats whose person left in a hurry (chat -> monotonic time), until they
        # write again: the outbox's rows for them are held in the database from then on;
        # this stops the ones already claimed and waiting here.
        self._quiet: dict[int | str, float] = {}
        # Messages sent to private chats lately (chat -> [(monotonic time, message id)]): one
        # the outbox sent a moment ago is not in the chat's kept ids yet (they are written
        # with its "sent"), and "Exit and clear chat" must delete it too.
        self._sent: dict[int, list[tuple[float, int]]] = {}

    def went_quiet(self, chat: int) -> None:
        now = time.monotonic()
        # Only the messages claimed before the hold need this (see QUIET_FOR).
        self._quiet = {c: at for c, at in self._quiet.items() if now - at < QUIET_FOR}
        self._quiet[chat] = now

    def sent_lately(self, chat: int) -> list[int]:
        now = time.monotonic()
        return [message for at, message in self._sent.get(chat, ()) if now - at < SENT_LATELY]

    def _sent_now(self, chat: int | str | None, result: object) -> None:
        if not (isinstance(chat, int) and chat > 0 and isinstance(result, dict)):
            return
        if "message_id" not in result:  # (not a message)
            return
        now = time.monotonic()
        if len(self._sent) > 4096:  # forget chats with nothing sent lately
            self._sent = {c: s for c, s in self._sent.items() if now - s[-1][0] < SENT_LATELY}
        recent = [(at, m) for at, m in self._sent.get(chat, ()) if now - at < SENT_LATELY]
        self._sent[chat] = [*recent, (now, int(result["message_id"]))]

    def speaks_again(self, chat: int) -> None:
        self._quiet.pop(chat, None)

    def _quiet_for(self, chat: int | str | None) -> float:
        """Seconds the chat is still held back here (0: not)."""
        at = self._quiet.get(chat) if chat is not None else None
        return 0.0 if at is None else max(0.0, QUIET_FOR - (time.monotonic() - at))

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _pace_of(self, chat: int | str, now: float) -> Pace:
        pace = self._chats.get(chat)
        if pace is None:
            if len(self._chats) > 4096:  # forget chats whose pace has run out
                self._chats = {k: p for k, p in self._chats.items() if not p.idle(now)}
            private = isinstance(chat, int) and chat > 0
            pace = self._chats[chat] = Pace(*(self._private if private else self._group))
        return pace

    async def _wait_turn(self, chat: int | str | None, new_message: bool, paced: bool) -> None:
        if chat is not None:
            pause = self._paused.get(chat, 0.0) - time.monotonic()
            if pause > 0:  # the chat got a 429: it waits, the others do not
                await asyncio.sleep(pause)
            else:
                self._paused.pop(chat, None)
            if new_message:
                await _sleep(self._pace_of(chat, time.monotonic()).reserve(time.monotonic()))
        if paced:  # counted, not held
            self._overall.count(time.monotonic())
        elif new_message:  # Telegram's 30 a second counts messages sent, not edits of them
            await _sleep(self._overall.reserve(time.monotonic()))

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Paced | ToPerson | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat = _chat_of(data)
        new_message = endpoint.startswith(NEW_MESSAGE)
        paced = rate_limit_args if isinstance(rate_limit_args, Paced) else None
        retries = self.max_retries if paced is None else paced.retries
        for attempt in range(retries + 1):
            await self._wait_turn(chat, new_message, paced is not None)
            if isinstance(rate_limit_args, ToPerson) and (quiet := self._quiet_for(chat)):
                raise ChatWentQuiet(quiet)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as error:
                wait = retry_after_seconds(error)
                if chat is not None:  # only this chat waits
                    until = time.monotonic() + wait
                    self._paused[chat] = max(self._paused.get(chat, 0.0), until)
                if attempt == retries or wait > LONGEST_WAIT:
                    raise
                self.retried += 1
                log.info("429 in one chat: it waits %.0f s, then the call goes again", wait)
                continue
            if new_message:
                self._sent_now(chat, result)
            return result
        raise AssertionError("unreachable")  # the last attempt returns or raises


def _chat_of(data: dict[str, Any]) -> int | str | None:
    chat = data.get("chat_id")
    if chat is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return int(chat)
    return str(chat)


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
