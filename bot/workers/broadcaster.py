"""The broadcast sender: paced at BROADCAST_RATE, resumable, with a live progress message.

Messages go out in bursts of about a tenth of a second's worth (3 at 30/s), each burst
marked `sending` in one statement just before it goes and its outcomes written in one
transaction as soon as it is back (bot/services/broadcasts.py): two transactions a burst
instead of two per message, and after a kill only the burst on its way is in doubt.
Recipients are claimed a chunk ahead in the background, so a burst never waits for them.

The pacing is the broadcast's own: a 429 pauses this broadcast only, never the replies to
people. Scheduled campaigns start here when due; in the quiet hours a campaign waits for
the morning unless the admin confirmed sending at night.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.app import QorgauApplication
from bot.db import BROADCAST_LOCK, Statement, if_first
from bot.services.broadcasts import Broadcasts, Outcome, Progress, Recipient
from bot.services.campaigns import in_quiet_hours
from bot.services.chat_log import ChatLog
from bot.telegram_http import in_doubt, retry_after_seconds
from handlers.screens.broadcast import progress_screen, send_version
from models import Broadcast

log = logging.getLogger("qorgau.broadcast")
PROGRESS_EVERY = 2.0  # seconds between edits of the progress message
# How often the loop looks again: with a campaign under way (paused, waiting for the morning,
# or sent by another instance, which this one takes over if that one stops) and with none.
# Starting or resuming one here wakes the loop at once; a scheduled one wakes it when due.
BUSY_LOOK = 2.0
IDLE_LOOK = 30.0
# With one instance every campaign is started or scheduled here, and that wakes the loop:
# the idle look is only a safety net (each look is a transaction; an idle bot's CPU counts).
IDLE_LOOK_ALONE = 300.0
FIX_CHUNK = 5000  # recipients fixed at a time (a few minutes' worth; about 0.1 s to write)


async def completed(awaitable: Awaitable[None]) -> None:
    """Run to the end even if cancelled meanwhile (then re-raise): a transaction that
    marked rows must be seen through, or the rows would be in doubt for nothing."""
    task = asyncio.ensure_future(awaitable)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.gather(task, return_exceptions=True)
        raise


def burst_size(rate: float) -> int:
    """Messages that go out together: about a tenth of a second's worth."""
    return max(1, math.ceil(rate / 10))


class Claims:
    """Claimed recipients, fetched a chunk ahead (keyset, in the background) so that a
    burst does not wait for the database. Rows given back behind the cursor (Telegram
    asked to wait, or failed) are found by one more pass from the start. When none are
    pending after the cursor, the next recipients are fixed first."""

    def __init__(self, broadcasts: Broadcasts, broadcast_id: int, chunk: int) -> None:
        self.broadcasts, self.broadcast_id, self.chunk = broadcasts, broadcast_id, chunk
        self.items: deque[Recipient] = deque()
        self.cursor = ""
        self.exhausted = False
        self.fetching: asyncio.Task[None] | None = None
        # Taken for the next burst, still `claimed` until marked as going out: a stop while
        # the burst waits for its slot hands them back too (else they wait IN_FLIGHT_GRACE).
        self.in_hand: list[Recipient] = []

    async def take(self, n: int) -> list[Recipient]:
        if self.fetching is not None and self.fetching.done():
            await self._wait()  # a claim made ahead: its failure, if any, shows here
        while len(self.items) < n and not self.exhausted:
            await self._wait()
        if len(self.items) < self.chunk // 2 + n and not self.exhausted:
            self.fetching = self.fetching or asyncio.create_task(self._fetch())
        self.in_hand = [self.items.popleft() for _ in range(min(n, len(self.items)))]
        return self.in_hand

    async def _wait(self) -> None:
        self.fetching = self.fetching or asyncio.create_task(self._fetch())
        try:
            await self.fetching
        finally:
            self.fetching = None

    async def _fetch(self) -> None:
        while True:
            claim = await self.broadcasts.claim(self.broadcast_id, self.cursor, self.chunk)
            if claim.cursor is not None:
                self.cursor = claim.cursor
                self.items.extend(claim.recipients)
                if claim.recipients:
                    return
                continue  # a chunk of people all skipped: on to the next
            if await self.broadcasts.fix_more(self.broadcast_id, FIX_CHUNK):
                continue  # more recipients fixed, after the cursor
            if self.cursor == "":
                self.exhausted = True
                return
            self.cursor = ""

    async def give_back(self, also: list[str]) -> None:
        """Stopping: let a claim under way finish, then hand back all that is unsent."""
        if self.fetching is not None:
            with contextlib.suppress(Exception):
                await self.fetching
        people = also + [r.person for r in (*self.in_hand, *self.items)]
        self.items.clear()
        self.in_hand = []
        await self.broadcasts.give_back(self.broadcast_id, people)


@dataclass
class Run:
    """One sender's pass over one campaign."""

    broadcast: Broadcast
    versions: dict[str, dict[str, Any]]
    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    outcomes: list[Outcome] = field(default_factory=list)  # of the last burst, unrecorded
    going: list[Recipient] = field(default_factory=list)  # marked, not yet handed over

    def kept(self, chat_log: ChatLog) -> list[Statement]:
        """The last burst's message ids, for "Exit and clear chat": one statement."""
        sent = [(o.person, o.message_id) for o in self.outcomes if o.message_id is not None]
        return [chat_log.remembered_each(sent)] if sent else []

    @property
    def rate(self) -> float:
        return self.sent / max(time.monotonic() - self.started, 1e-6)


class Broadcaster:
    def __init__(self, application: QorgauApplication) -> None:
        self.app = application
        self.services = application.services
        self.wake = asyncio.Event()
        self.shown_waiting: set[int] = set()  # campaigns whose message says "until morning"

    async def run(self) -> None:
        idle_look = IDLE_LOOK if self.services.leases is not None else IDLE_LOOK_ALONE
        while True:
            wait = BUSY_LOOK
            try:
                due = await self.services.broadcasts.due_in(datetime.now(UTC))
                if due == 0:
                    # One instance sends at a time, so BROADCAST_RATE holds for the bot.
                    async with if_first(self.services.engine, BROADCAST_LOCK) as mine:
                        if mine:
                            await self.send_running()
                else:
                    wait = min(idle_look, due if due is not None else idle_look)
            except Exception as error:  # the database is away: wait and try again
                log.warning("broadcast loop: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
            self.wake.clear()

    async def send_running(self, now: datetime | None = None) -> None:
        broadcasts = self.services.broadcasts
        abandoned = await broadcasts.abandon_in_flight()
        if abandoned:
            log.warning(
                "%s broadcast messages were in flight at a crash: not sent again", abandoned
            )
        await broadcasts.start_due(now or datetime.now(UTC))
        for broadcast_id in await broadcasts.running():
            await self.send(broadcast_id)

    def waits_for_morning(self, broadcast: Broadcast) -> bool:
        settings = self.services.settings
        return not broadcast.night_ok and in_quiet_hours(
            datetime.now(UTC), settings.broadcast_timezone, settings.quiet
        )

    async def send(self, broadcast_id: int) -> None:
        broadcast = await self.services.broadcasts.get(broadcast_id)
        if broadcast is None:
            return
        if self.waits_for_morning(broadcast):
            if broadcast_id not in self.shown_waiting:
                self.shown_waiting.add(broadcast_id)
                progress = await self.services.broadcasts.progress(broadcast_id)
                await self.show_progress(broadcast_id, progress, 0.0, "night")
            return
        self.shown_waiting.discard(broadcast_id)
        run = Run(broadcast, json.loads(broadcast.versions))
        reporter = asyncio.create_task(self.report_progress(run))
        try:
            finished = await self.send_bursts(run)
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        await self.finish(run, finished)

    async def send_bursts(self, run: Run) -> bool:
        """Bursts at BROADCAST_RATE until nobody is left (True) or the campaign stops."""
        rate = self.services.settings.broadcast_rate
        size = burst_size(rate)
        claims = Claims(
            self.services.broadcasts, run.broadcast.id, max(size, min(int(rate * 5), 500))
        )
        try:
            return await self.burst_loop(run, claims, size, size / rate)
        except asyncio.CancelledError:
            # Stopping: what went out is recorded, what did not goes back to pending.
            await asyncio.shield(self.stop_now(run, claims))
            raise

    async def burst_loop(self, run: Run, claims: Claims, size: int, interval: float) -> bool:
        next_slot = time.monotonic()
        while True:
            burst = await claims.take(size)
            if not burst or self.waits_for_morning(run.broadcast):
                await claims.give_back([])  # the burst is in hand: it goes back too
                await completed(self.mark(run, []))
                return not burst
            delay = next_slot - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # At least one interval between two bursts, however late the loop runs.
            next_slot = max(next_slot, time.monotonic()) + interval
            await completed(self.mark(run, burst))
            claims.in_hand = []  # marked: run.going has them now
            if not run.going and await self.stopped(run.broadcast.id):
                await claims.give_back([r.person for r in burst])
                return False
            pause = await self.send_burst(run)
            # Outcomes at once, so that a kill leaves in doubt only what was in flight.
            await completed(self.mark(run, []))
            if pause:
                # Telegram asked to slow down: this broadcast waits; people's replies do not.
                next_slot = time.monotonic() + pause

    async def mark(self, run: Run, burst: list[Recipient]) -> None:
        """Write the last burst's outcomes and mark this one as going out now."""
        kept = run.kept(self.services.chat_log)
        marked = await self.services.broadcasts.go(
            run.broadcast.id, run.outcomes, [r.person for r in burst], *kept
        )
        run.outcomes = []
        run.going = [r for r in burst if r.person in marked]

    async def stopped(self, broadcast_id: int) -> bool:
        broadcast = await self.services.broadcasts.get(broadcast_id)
        return broadcast is None or broadcast.status != "running"

    async def send_burst(self, run: Run) -> float:
        """Send a burst together; its outcomes are kept in `run` until written (`mark`).
        Returns how long Telegram asked us to wait."""
        tasks = [asyncio.create_task(self.send_one(run, r)) for r in run.going]
        run.going = []
        try:
            await asyncio.shield(asyncio.gather(*tasks))
        except asyncio.CancelledError:
            await asyncio.gather(*tasks, return_exceptions=True)  # let them land
            self.collect(run, tasks)
            raise
        return self.collect(run, tasks)

    def collect(self, run: Run, tasks: list[asyncio.Task[tuple[Outcome, float]]]) -> float:
        pause = 0.0
        for task in tasks:
            if task.cancelled() or task.exception() is not None:
                continue  # left `sending`: unknown after a restart, never sent twice
            outcome, wait = task.result()
            run.outcomes.append(outcome)
            run.sent += outcome.status == "sent"
            pause = max(pause, wait)
        return pause

    async def stop_now(self, run: Run, claims: Claims) -> None:
        broadcasts = self.services.broadcasts
        await broadcasts.go(run.broadcast.id, run.outcomes, [], *run.kept(self.services.chat_log))
        # Marked but never handed to Telegram: nothing went out, so pending again.
        await broadcasts.give_back(run.broadcast.id, [r.person for r in run.going], "sending")
        await claims.give_back([])

    async def send_one(self, run: Run, r: Recipient) -> tuple[Outcome, float]:
        """Send to one recipient of a burst already marked `sending`: (outcome, pause)."""
        pause, message_id = 0.0, None
        version = self.services.broadcasts.version_for(run.versions, r.locale)
        try:
            chat_id = self.services.broadcasts.chat_id(r)
            message_id = await send_version(
                self.app.bot, self.services, chat_id, version, r.locale, paced=True
            )
            status = "sent"
        except RetryAfter as error:
            status, pause = "pending", retry_after_seconds(error)  # not sent: it goes later
        except Forbidden:
            status = "blocked"
        except BadRequest:
            status = "failed"
        except ValueError:  # no key we hold reads their chat (SECRET_KEY changed): skipped
            status = "skipped"
        except TelegramError as error:
            # No answer: it may have arrived, so it is never sent again; Telegram failed
            # (5xx): it did not, so it goes again later.
            status = "unknown" if in_doubt(error) else "error"
        return Outcome(r.person, status, message_id), pause

    async def finish(self, run: Run, nobody_left: bool) -> None:
        broadcasts = self.services.broadcasts
        broadcast_id = run.broadcast.id
        progress = await broadcasts.progress(broadcast_id)
        broadcast = await broadcasts.get(broadcast_id)
        status = broadcast.status if broadcast else "done"
        if nobody_left and progress.left == 0 and status == "running":
            await broadcasts.set_status(broadcast_id, "done")
            status = "done"
        elif status == "running" and self.waits_for_morning(run.broadcast):
            self.shown_waiting.add(broadcast_id)
            status = "night"
        await self.show_progress(broadcast_id, progress, run.rate, status)

    async def report_progress(self, run: Run) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            progress = await self.services.broadcasts.progress(run.broadcast.id)
            await self.show_progress(run.broadcast.id, progress, run.rate, "running")

    async def admin_locale(self, broadcast: Broadcast) -> str:
        """The admin's chosen language if they chose one, else the one they composed in."""
        services = self.services
        stored = await services.people.stored_locale(
            services.identity.pseudonym(broadcast.created_by)
        )
        return stored or broadcast.admin_locale or services.settings.default_locale

    async def show_progress(
        self, broadcast_id: int, progress: Progress, rate: float, status: str
    ) -> None:
        """Edit the admin's progress message (a scheduled campaign gets a new one when it
        starts). No buttons once it is done or cancelled."""
        broadcast = await self.services.broadcasts.get(broadcast_id)
        if broadcast is None:
            return
        t = self.services.catalogues[await self.admin_locale(broadcast)]
        text, markup = progress_screen(t, broadcast_id, progress, rate, status)
        with contextlib.suppress(TelegramError):
            if broadcast.progress_message_id is None and broadcast.scheduled_at is not None:
                sent = await self.app.bot.send_message(
                    broadcast.admin_chat_id, text, reply_markup=markup
                )
                await self.services.broadcasts.set_progress_message(broadcast_id, sent.message_id)
                return
            if broadcast.progress_message_id is None:
                return  # the /broadcast handler is about to send it
            await self.app.bot.edit_message_text(
                text,
                chat_id=broadcast.admin_chat_id,
                message_id=broadcast.progress_message_id,
                reply_markup=markup,
            )


async def run_broadcaster(application: QorgauApplication) -> None:
    broadcaster = Broadcaster(application)
    application.bot_data["broadcaster"] = broadcaster
    await broadcaster.run()


def register(application: QorgauApplication) -> None:
    application.workers.append(run_broadcaster)
