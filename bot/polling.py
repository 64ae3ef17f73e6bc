"""Polling that confirms an update to Telegram only after it was handled.

PTB's Updater confirms a batch as soon as it asks for the next one, before the batch is
handled: a crash (kill -9, power loss) then loses those updates, a person's message or a
volunteer's answer among them. Here the offset moves on only past updates that were handled
(and their persistence written); a slow chat does not hold the others' updates (see
Dispatch). Updates replayed after a crash are safe because the flows are idempotent (intake
keys, message ids, relay links).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

from telegram import Update
from telegram.error import Conflict, TelegramError

from bot.app import ALLOWED_UPDATES, QorgauApplication
from bot.ptb_private import JSONDict, raw_updates
from bot.telegram_http import again_on_hiccup
from bot.web import health_server

log = logging.getLogger("qorgau.polling")
# Telegram holds a poll up to this long when nothing comes: an idle bot asks twice a minute
# (each poll costs the bot about a millisecond of CPU). Stopping does not wait for it.
LONG_POLL_SECONDS = 30
# While an update is in flight, Telegram answers a poll at once with it again: look again this
# often (or as soon as one finishes).
IN_FLIGHT_POLL_SECONDS = 0.2
RETRY_FIRST_SECONDS, RETRY_LONGEST_SECONDS = 1.0, 30.0  # an update the database failed
STOP_WAIT_SECONDS = 10.0  # on stopping, how long updates in flight may take to finish


class Dispatch:
    """Updates handed to the processor, each in a task of its own: the next getUpdates does
    not wait for a slow chat (one held by a 429 would hold everyone's replies). Telegram is
    told only up to the oldest update still in flight, so a crash loses none; the ones it
    sends again while they are in flight are not handled twice."""

    def __init__(self, application: QorgauApplication) -> None:
        self.app = application
        self.tasks: dict[int, asyncio.Task[None]] = {}
        # Updates that failed because the database was away: update id -> (when to try again,
        # tries so far). Not confirmed: Telegram keeps sending them until they are handled.
        self.failed: dict[int, tuple[float, int]] = {}
        self.highest = 0  # highest update id handed over
        self.changed = asyncio.Event()

    @property
    def offset(self) -> int | None:
        """What to confirm: everything before the oldest update still being handled."""
        if self.tasks or self.failed:
            return min([*self.tasks, *self.failed])
        return self.highest + 1 if self.highest else None

    def hand_over(self, updates: list[JSONDict]) -> None:
        """Start handling the new ones, and failed ones whose time has come. Only those are
        turned into Updates: the ones in flight come again with every poll, and parsing
        them each time cost most of the bot's CPU."""
        now = time.monotonic()
        fresh = [
            Update.de_json(u, self.app.bot)
            for u in updates
            if u["update_id"] > self.highest
            or (u["update_id"] in self.failed and self.failed[u["update_id"]][0] <= now)
        ]
        for update in fresh:
            processor = self.app.update_processor
            coroutine = processor.process_update(update, self.app.process_update(update))
            task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
            self.tasks[update.update_id] = task
            task.add_done_callback(functools.partial(self._done, update.update_id))
            self.highest = max(self.highest, update.update_id)

    def _done(self, update_id: int, task: asyncio.Task[None]) -> None:
        if not task.cancelled():  # one stopped half-way stays unconfirmed
            self.tasks.pop(update_id, None)
            tries = self.failed.pop(update_id, (0.0, 0))[1]
            if update_id in self.app.unhandled:
                self.app.unhandled.discard(update_id)
                wait = min(RETRY_FIRST_SECONDS * 2**tries, RETRY_LONGEST_SECONDS)
                self.failed[update_id] = (time.monotonic() + wait, tries + 1)
        self.changed.set()

    def poll_starts(self) -> None:
        """An update that finishes from now on ends `some_finished` at once: one that ended
        while the poll was on its way, which brought it back anyway, is not missed (it
        was: the next poll waited the whole IN_FLIGHT_POLL_SECONDS)."""
        self.changed.clear()

    async def some_finished(self, timeout: float) -> None:
        """Wait for an update in flight to finish since the poll started (or `timeout`):
        until then a new poll would only bring the same ones back."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)

    async def finish(self, timeout: float) -> None:
        """Let what is in flight end, for a while; the rest is stopped and not confirmed
        (Telegram sends it again on the next start)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=timeout)
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def poll(application: QorgauApplication, stop: asyncio.Event) -> None:
    """Run the application in polling mode until `stop` is set."""
    await again_on_hiccup(application.initialize, attempts=None, stop=stop)  # migrations, getMe
    try:
        await again_on_hiccup(application.bot.delete_webhook, attempts=None, stop=stop)
        await application.start()
        try:
            async with health_server(application):
                await _poll(application, stop)
        finally:
            await application.stop()
    finally:
        await application.shutdown()


async def _poll(application: QorgauApplication, stop: asyncio.Event) -> None:
    dispatch = Dispatch(application)
    fetch: asyncio.Future[list[JSONDict]] | None = None
    try:
        while not stop.is_set():
            dispatch.poll_starts()
            fetch = asyncio.ensure_future(
                raw_updates(application.bot, dispatch.offset, LONG_POLL_SECONDS, ALLOWED_UPDATES)
            )
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if stop.is_set():
                break
            try:
                updates = fetch.result()
            except Conflict:
                log.error("another poller uses this token (409): scale with webhooks")
                await asyncio.sleep(5)
                continue
            except TelegramError as error:
                log.warning("getUpdates failed: %s", type(error).__name__)
                await asyncio.sleep(1)
                continue
            if updates:
                # What was handed over is in flight now, and Telegram would answer the next
                # poll at once with it again: ask again once an update ends (a new update
                # of another chat waits no longer than IN_FLIGHT_POLL_SECONDS). Asking at
                # once brought every update twice, a request and its JSON each time.
                dispatch.hand_over(updates)
                await dispatch.some_finished(IN_FLIGHT_POLL_SECONDS)
    finally:
        if fetch is not None and not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
        await dispatch.finish(STOP_WAIT_SECONDS)
        if dispatch.offset is not None:  # confirm what was handled before going away
            with contextlib.suppress(TelegramError):
                await application.bot.get_updates(offset=dispatch.offset, timeout=0)
