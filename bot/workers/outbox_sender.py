"""The outbox sender: delivers what the bot owes, with retries; never drops a staff message.

Cards, follow-ups and notices to staff are retried until Telegram takes them (a 429 waits
its retry_after; other failures back off). Messages to a person stop only when Telegram says
they can never arrive (blocked, deactivated), and then the staff are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections import deque
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from html import escape
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.app import QorgauApplication, Services
from bot.db import Handing, Statement, execute_all
from bot.i18n import N_
from bot.message_parts import CAPTION_LIMIT, TEXT_LIMIT, split_text, visible_length
from bot.rate_limiter import ChatWentQuiet, ToPerson
from bot.services import outbox as outbox_rows
from bot.services.intake_form import writes_as_child
from bot.services.notes import delivered_mark
from bot.services.outbox import RECENT, TO_PERSON, Claimed, NothingDue, OutboxItem
from bot.services.staff import Member, member, pick_route
from bot.telegram_http import chat_refuses, in_doubt, permanent, retry_after_seconds
from bot.workers.care import DELIVERIES as CARE_DELIVERIES
from bot.workers.care import content_note, send_spoiled
from bot.workers.documents import TooBigToRename, send_renamed
from bot.workers.rapid_response import DELIVERIES as RAPID_DELIVERIES
from bot.workers.referral_delivery import DELIVERIES as REFERRAL_DELIVERIES
from bot.workers.staff_chat_watch import problem_in, watch_of
from bot.workers.staff_marks import DELIVERIES as MARK_DELIVERIES
from handlers import callbacks
from handlers.screens.common import EXIT, SPOILED, button
from handlers.screens.staff_cards import card_buttons, card_text, mention
from models import Case
from models.enums import SENIOR_ROLES

log = logging.getLogger("qorgau.delivery")
T = TypeVar("T")
# Outbox kinds delivered by other modules (the rest by a `_kind` method of the Sender).
DELIVERIES = {**REFERRAL_DELIVERIES, **MARK_DELIVERIES, **RAPID_DELIVERIES}
WORKERS = 8  # rows delivered at the same time (each of a different case)
# The longest the sender goes without looking (Sender._sleep, Sender._clear), idle or
# busy with rows handed to it: with several instances, for another one's rows; alone,
# every row is announced or its time known, and the look is a safety net (it cost the
# idle bot a quarter of its CPU every 5 s).
IDLE_POLL = 5.0
IDLE_POLL_ALONE = 60.0
# Messages of the row being delivered that Telegram took already (a long text goes in parts).
_parts_sent: ContextVar[int] = ContextVar("parts_sent", default=0)
# The row being delivered waited while the person had left in a hurry: no sound.
_quiet: ContextVar[bool] = ContextVar("quiet", default=False)

# Copies of these cannot carry a caption: the case code or "Helpline" goes in a message of
# its own.
NO_CAPTION = {"sticker", "video_note", "other"}

# Shown above a staff-side message sent again when an earlier try may have arrived (the bot
# stopped in the middle of it, or no answer came): there is no way to ask Telegram.
MAY_REPEAT = N_(
    "↻ Sent again: the first try may have arrived. If you see this above already, use that one."
)
NOTICES = {
    "blocked": N_(
        "The person has blocked the bot or deleted their account: the message "
        "was not delivered. The case stays open."
    ),
    "no_address": N_(
        "This person cannot be answered: they asked not to be answered or "
        "erased the link. The message was not sent."
    ),
    "undeliverable": N_("This message could not be delivered to the person."),
    "reopened": N_(
        "The person wrote again after the case was closed and chose to send it here: the "
        "case is open again."
    ),
    "left": N_(
        "The person left in a hurry («Exit and clear chat»): someone may be near them. "
        "Answers are held and nothing is sent to their chat until they write again; then "
        "what waited is delivered without a sound."
    ),
    "file_too_big": N_(
        "The document was not sent to the person: it is over 20 MB, and the bot can hide the "
        "names of files only up to 20 MB. Please send a smaller file, or several."
    ),
    "key_lost": N_(
        "This person cannot be answered: their address was encrypted with a key the bot "
        "no longer has (SECRET_KEY was changed without SECRET_KEYS_OLD)."
    ),
    "refused": N_(
        "A message of this case could not be shown here: Telegram refused it. "
        "Ask the person to send it again if it matters."
    ),
}
# Added to the card when the person changes where they stand (CARD_UPDATE).
CARD_LINES = {
    "closed": N_("👤 The person closed this request."),
    "forgotten": N_("👤 The person erased their data (/forget): they can no longer be answered."),
    "window": N_("👤 The person changed when answers may reach them."),
}
TOO_BIG_FROM_PERSON = N_(
    "📎 The person sent a document over 20 MB. It was not passed on: the bot can hide the "
    "names of files only up to 20 MB. Ask them for a smaller file, or several."
)
# A file the person sent, not yet copied when they erased the link to it (/forget), or
# whose chat no key we hold can read.
FILE_UNLINKED = N_(
    "(a file the person sent could not be passed on: the link to their chat is gone)"
)
# Where an attachment could not be copied (the person deleted it first, or Telegram refused).
LOST = N_(
    "The person sent an attachment ({kind}) that could not be passed on: they deleted it, "
    "or Telegram refused it. Ask them to send it again if it matters."
)


def named(payload: dict[str, Any]) -> bool:
    """The row's file goes under a neutral name (bot/workers/documents.py); a file without
    one (a photo, a video or GIF sent as such) is copied, or shown to staff by its file_id."""
    return bool((payload.get("file") or {}).get("name"))


async def _uncut(task: asyncio.Future[T]) -> T:
    """The task's result; a stop (cancellation) meanwhile waits for it to end before it goes
    on, so a transaction is never cut off half-way (a "sent" lost would send a row again)."""
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


class Undeliverable(Exception):
    """The message can never reach its addressee (and retrying will not change that)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender:
    def __init__(self, application: QorgauApplication) -> None:
        self.app = application
        self.services: Services = application.services
        self.bot: Bot = application.bot
        self.wake = asyncio.Event()
        self._helper_wanted = asyncio.Semaphore(0)  # released: one sleeping worker looks
        self._helpers_idle = 0
        self._watching = False  # a worker waits for new rows, and for rows to fall due
        self._watching_until: datetime | None = None  # and looks again then at the latest
        self._forum: dict[int, bool] = {}
        self.recent: deque[int] = deque(maxlen=RECENT)  # served last: others go first
        self.handed: deque[OutboxItem] = deque()  # claimed for us as they were added
        self._held: dict[int, float] = {}  # rows leased to us: since when (monotonic)
        # What the sender knows between looks. A look that finds nothing due counts only
        # if no row was announced while it was under way: its query may have run before
        # that row was written (a stale "nothing" once left an answer pending for minutes
        # while others went: bench.answers_soak). So announcements are counted, and a look
        # remembers the count it began at.
        self._announced = 0  # rows announced (added, or due again) since the start
        self._clear_as_of: int | None = None  # the count when the last empty look began
        self._trusted_until = 0.0  # (monotonic) and when it is too old: see _clear
        self._next_due: datetime | None = None  # and when the next row falls due then
        self._behind = False  # and whether rows wait behind others being sent

    @property
    def staff_t(self) -> Any:
        return self.services.catalogues[self.services.settings.default_locale]

    async def run(self) -> None:
        self.services.outbox.on_new(self._new_rows)
        self.services.outbox.on_handed(self._handed, self._room)
        with contextlib.suppress(Exception):  # the database may be away: the loop copes
            await self.services.outbox.due_now()
        # Different cases at the same time (a case's rows still go one by one, in order):
        # one chat waiting for its pace does not hold the others.
        # A task group, not gather: stopped, it cancels each worker once and waits for all
        # of them, so a write `_uncut` lets finish is not cut (a "sent" lost: sent twice)
        # and a row a worker took back is handed back below. gather ended at the first
        # worker cancelled, while others were still writing.
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(WORKERS):
                    workers.create_task(self._work())
                workers.create_task(self._keep_leases())
        finally:
            self._announce()
            await asyncio.shield(self._hand_back())

    async def _hand_back(self) -> None:
        """Stopping: rows handed over but not sent go back at once (not after their lease)."""
        while self.handed:
            item = self.handed.popleft()
            with contextlib.suppress(Exception):
                await self.services.outbox.retry(item.id, 0, "stopped", timedelta(0))

    async def _keep_leases(self) -> None:
        """Every third of a lease, the leases of rows held that long start again. A send
        can outlast a lease while it waits for its chat's pace (a staff group takes one
        message every 3 s, and eight workers may wait for it) or a row handed over waits
        for a worker; a look would then take the row again and send it twice."""
        while True:
            every = outbox_rows.LEASE.total_seconds() / 3
            await asyncio.sleep(every)
            now = time.monotonic()
            held = [row for row, since in self._held.items() if now - since >= every]
            if held:
                try:
                    await self.services.outbox.keep_leases(held)
                except Exception as error:  # the database is away: the next round
                    log.warning("outbox leases not kept: %s", type(error).__name__)

    def _hold(self, item: OutboxItem) -> None:
        self._held.setdefault(item.id, time.monotonic())

    def _handed_here(self, item: OutboxItem) -> None:
        """A row handed to this worker (it takes it next: no one need wake)."""
        self._hold(item)
        self.handed.append(item)

    def _announce(self) -> None:
        """Rows to claim (added, or due again): none are handed over ahead of them, and the
        next worker free looks."""
        self._announced += 1

    @property
    def _poll(self) -> float:
        return IDLE_POLL if self.services.leases is not None else IDLE_POLL_ALONE

    def _clear(self) -> bool:
        """The last look found nothing due, no row was announced since it began, and it
        is not older than the idle look's time, nor from an hour gone (safe times open on
        the hour): what no event announced (another instance's rows) is found then, even
        while rows are handed over all the time."""
        return self._clear_as_of == self._announced and time.monotonic() < self._trusted_until

    def _room(self) -> bool:
        """Rows may be handed over as they are added: the last look found nothing else due
        (handed rows never go ahead of others), and a worker is free for each."""
        return self._clear() and len(self.handed) < WORKERS

    def _handed(self, item: OutboxItem) -> None:
        """A row claimed for us as it was added (Outbox.add): the next free worker sends it."""
        self._hold(item)
        self.handed.append(item)
        self.wake.set()
        if not self._watching:  # the watching worker is busy: another one takes it
            self._wake_a_helper()

    async def _work(self) -> None:
        """One worker with nothing to do watches the outbox (woken by new rows, or when one
        falls due); the others sleep until it finds work, so an idle bot asks the database
        once a wait, not once per worker. Marking a row sent and claiming the next are one
        transaction."""
        finished: list[Statement] = []
        while True:
            if self.handed:  # first: a handed row's lease must not run out waiting
                item = await self._take_handed(finished)
                finished = []
            elif finished and self._nothing_new():
                # The last look found nothing due and nothing was added since: the "sent"
                # alone, without looking again (two statements fewer per relayed message).
                await self._write(finished)
                finished = []
                await self._rest()
                continue
            else:
                claimed = await self._claimed(finished)
                finished = []
                if claimed is None:
                    continue
                item = claimed.item
            if item.case_id is not None:
                self.recent.append(item.case_id)
            self._hold(item)
            try:
                finished = await self.deliver(item)
                if not finished:  # not sent: it is due again later, or a notice was added
                    self._announce()
                if any(isinstance(statement, Handing) for statement in finished):
                    # It hands a row to us (a "delivered" mark): written now, no claim.
                    await self._write(finished)
                    finished = []
            except Exception as error:  # the database went away mid-way: the row's lease
                # runs out and it is sent again, marked as possibly repeated
                log.warning("outbox bookkeeping failed: %s", type(error).__name__)
                await asyncio.sleep(1)
            finally:
                self._held.pop(item.id, None)

    async def _take_handed(self, finished: list[Statement]) -> OutboxItem:
        """The next row handed over, taken before the last row's "sent" is written (with
        no claim to go with): another worker may take the rest meanwhile."""
        item = self.handed.popleft()
        if self.handed:  # more: a sleeping worker takes the next
            self._wake_a_helper()
        if finished:
            try:
                await self._write(finished)
            except asyncio.CancelledError:
                # Stopped while writing: the row is not sent, and goes back with the other
                # handed ones (`run`), not after its lease, marked "Sent again".
                self.handed.appendleft(item)
                raise
        return item

    async def _claimed(self, finished: list[Statement]) -> Claimed | None:
        """The next row to send, or None after a wait (for work, or the database)."""
        announced, began = self._announced, time.monotonic()
        try:
            claimed = await self._claim(finished)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database is away: wait, try again (a row whose
            # "sent" was lost runs out of lease and goes again, marked)
            log.warning("outbox claim failed: %s", type(error).__name__)
            await asyncio.sleep(1)
            return None
        if isinstance(claimed, Claimed):
            self._clear_as_of = None
            if claimed.more:
                self._wake_a_helper()  # there is more: one more worker looks
            return claimed
        hour_ends = time.monotonic() + self.services.outbox.until_next_hour(datetime.now(UTC))
        self._clear_as_of = announced
        self._trusted_until = min(began + self._poll, hour_ends)
        self._next_due, self._behind = claimed.next_due, claimed.behind
        due, until = claimed.next_due, self._watching_until
        if self._watching and due is not None and until is not None and due < until:
            # Another worker found a row due before the watching one looks (one it failed
            # to send, to try again soon): the watching one waits for that instead.
            self.wake.set()
        await self._rest()
        return None

    def _nothing_new(self) -> bool:
        """Whether a look now would find nothing: the last one found nothing due, no row
        was announced since it began (Outbox.watch tells the sender of each), nothing it
        knew of has fallen due (a row a worker failed to send is due again: it looks
        then), and no row waits behind one being sent (the "sent" of that one lets it
        go: claimed with it)."""
        due = self._next_due
        return self._clear() and not self._behind and (due is None or due > datetime.now(UTC))

    async def _rest(self) -> None:
        """Nothing to do: the worker watches for work and for the next row to fall due, or,
        if another one watches, waits for it to find work. Not always the same worker: the
        one that watched may be in a long send (a staff group's pace can hold one for half
        a minute), and a row to try again soon would wait for it."""
        if not self.handed:
            await (self._wait_for_work() if self._watching else self._sleep(self._next_due))

    async def _write(self, finished: list[Statement]) -> None:
        """A row's "sent" on its own (see `_uncut`). Lost (the database is away), the row's
        lease runs out and it goes again, marked."""
        try:
            await _uncut(asyncio.ensure_future(execute_all(self.services.engine, *finished)))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("outbox bookkeeping failed: %s", type(error).__name__)

    async def _claim(self, finished: list[Statement]) -> Claimed | NothingDue:
        """The claim, with the last row's "sent" (see `_uncut`); a row it claimed while
        the worker was being stopped is handed back at once."""
        claiming = asyncio.ensure_future(self.services.outbox.claim(self.recent, finished))
        try:
            return await _uncut(claiming)
        except asyncio.CancelledError:
            if claiming.done() and not claiming.cancelled() and not claiming.exception():
                claimed = claiming.result()
                if isinstance(claimed, Claimed):
                    with contextlib.suppress(Exception):
                        item = claimed.item
                        await self.services.outbox.retry(
                            item.id, item.attempts, "stopped", timedelta(0)
                        )
            raise

    def _new_rows(self) -> None:
        self._announce()
        self.wake.set()
        if not self._watching:  # no worker watches: another one looks
            self._wake_a_helper()

    def _wake_a_helper(self) -> None:
        """One sleeping worker looks for work; if it finds some, it wakes the next (a
        chain: one claim that finds nothing per burst, not one per worker)."""
        if self._helpers_idle:
            self._helpers_idle -= 1
            self._helper_wanted.release()

    async def _wait_for_work(self) -> None:
        self._helpers_idle += 1
        await self._helper_wanted.acquire()

    async def _sleep(self, due: datetime | None) -> None:
        """Until the next row falls due, new rows are added (any transaction that adds
        some wakes the sender: Outbox.watch), or the idle look's time passes: what no event
        announces (another instance's rows) is found then; safe times open on the hour."""
        now = datetime.now(UTC)
        delay = min(self._poll, self.services.outbox.until_next_hour(now))
        if self._clear_as_of is not None:  # and no later than the last look goes stale
            delay = min(max(self._trusted_until - time.monotonic(), 0.01), delay)
        if due is not None:
            delay = min(max((due - now).total_seconds(), 0.01), delay)
        self._watching, self._watching_until = True, now + timedelta(seconds=delay)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), delay)
        finally:
            self._watching = False
        self.wake.clear()

    async def deliver(self, item: OutboxItem) -> list[Statement]:
        """Send a claimed row; what the sending changed (card ids, links, message ids kept
        for "Exit and clear chat") is returned, with the statement that marks it sent, for
        one transaction. Empty when it was not sent (the failure is recorded here)."""
        parts, quiet = _parts_sent.set(0), _quiet.set(item.quiet)
        try:
            deliveries = {**DELIVERIES, **CARE_DELIVERIES}
            send = getattr(self, f"_{item.kind}", None) or partial(deliveries[item.kind], self)
            outcome: list[Statement] = await send(item)
        except asyncio.CancelledError:
            # Stopping mid-send: hand the row back at once instead of holding its lease (the
            # request may have gone out: the next try is marked).
            await asyncio.shield(self._retry(item, "stopped", timedelta(0), in_doubt=True))
            raise
        except Exception as error:
            if _parts_sent.get():  # a message of several went out in part: the next try
                item = replace(item, uncertain=True)  # says it may repeat them
            await asyncio.shield(self._after_failure(item, error))
            return []
        finally:
            _parts_sent.reset(parts)
            _quiet.reset(quiet)
        # Marked sent with the next claim, in its transaction (Sender._claim).
        return self.services.outbox.sent_now(item.id, outcome)

    async def _retry(
        self, item: OutboxItem, error: str, after: timedelta | None, *, in_doubt: bool = False
    ) -> None:
        # Once a try may have arrived, every later one is marked, whatever stops it.
        doubt = in_doubt or item.uncertain
        await self.services.outbox.retry(item.id, item.attempts, error, after, in_doubt=doubt)

    async def _after_failure(self, item: OutboxItem, error: Exception) -> None:
        """Try again later what may go later (a 429, a 5xx, no answer); a refusal (see
        telegram_http.permanent) never holds up the rest of the case."""
        if isinstance(error, ChatWentQuiet):  # held in the database from now on: it goes
            # (quietly) once the person writes again; not before the limiter lets it
            after = timedelta(seconds=error.for_seconds)
            await self._retry(item, "held", after)
        elif isinstance(error, Undeliverable) or permanent(error):
            await self._refused(item, error)
        elif isinstance(error, RetryAfter):
            after = timedelta(seconds=retry_after_seconds(error))
            await self._retry(item, "RetryAfter", after)
        else:
            if not isinstance(error, TelegramError):
                # Frames only: an exception's text may quote a message.
                frames = "".join(traceback.format_tb(error.__traceback__))
                log.error(
                    "outbox %s (%s) failed: %s\n%s",
                    item.id,
                    item.kind,
                    type(error).__name__,
                    frames,
                )
            await self._retry(item, type(error).__name__, None, in_doubt=in_doubt(error))

    async def _refused(self, item: OutboxItem, error: Exception) -> None:
        """Telegram refused for good (or the addressee is gone): give the row up and say so
        to the staff, except where waiting can still help (a deleted topic, a staff chat an
        admin can fix)."""
        outbox = self.services.outbox
        if isinstance(error, BadRequest) and "thread not found" in error.message.lower():
            # The case's forum topic was deleted: a new topic and card on the next try.
            if item.case_id is not None:
                await self._forget_card(item.case_id)
            await outbox.retry(item.id, 0, "thread not found", timedelta(0))
            return
        if item.kind in TO_PERSON:
            await self._refused_by_person(item, error)
        elif (problem := problem_in(error)) is not None:
            # The staff chat does not take the bot's messages: kept until an admin fixes it,
            # and the admins are told.
            await self._retry(item, "staff chat refuses", None)
            if item.case_id is not None and (case := await self._case(item)) is not None:
                await watch_of(self.app).refused(await self._chat_for(case), problem)
            return
        elif isinstance(error, Undeliverable) or item.kind == "staff_notice":
            await outbox.failed(item.id, _reason(error), tell_staff_of=None)
        else:
            await outbox.failed(item.id, "refused", tell_staff_of=item.case_id)
        self.wake.set()

    async def _refused_by_person(self, item: OutboxItem, error: Exception) -> None:
        outbox = self.services.outbox
        if isinstance(error, Undeliverable):
            reason = error.reason
        else:
            reason = "blocked" if isinstance(error, Forbidden) else "undeliverable"
        if item.kind == "confirmation":  # only the person's business
            await outbox.failed(item.id, reason, tell_staff_of=None, erase=True)
        else:
            await outbox.failed(item.id, reason, tell_staff_of=item.case_id)

    async def _forget_card(self, case_id: int) -> None:
        async with self.services.sessions.begin() as session:
            case = await session.get(Case, case_id)
            if case is not None:
                case.card_message_id, case.topic_id = None, None

    # -- staff side ----------------------------------------------------------------------------

    async def _case(self, item: OutboxItem) -> Case:
        """The row's case, as read with the claim (or now, for a row claimed without)."""
        assert item.case_id is not None
        case = item.case or await self.services.casework.by_id(item.case_id)
        if case is None:
            raise Undeliverable("case gone")
        return case

    async def _taker(self, item: OutboxItem, case: Case) -> Member | None:
        """Who has the case now (read with the claim where it could be)."""
        if not case.taken_by:
            return None
        if item.taker is not None and item.taker.telegram_id == case.taken_by:
            return member(item.taker)
        return await self.services.staff.get(case.taken_by)

    async def _is_forum(self, chat_id: int) -> bool:
        if chat_id not in self._forum:
            chat = await self.bot.get_chat(chat_id)
            self._forum[chat_id] = bool(chat.is_forum)
        return self._forum[chat_id]

    async def _chat_for(self, case: Case) -> int:
        if case.staff_chat_id:
            return case.staff_chat_id
        rules = await self.services.staff.routes()
        routed = pick_route(rules, case.kind, case.category, case.locale)
        return routed or self.services.settings.staff_chat_id

    async def _ensure_card(self, case: Case) -> Case:
        """The case with its card up: posted now (and recorded at once) if it was not."""
        if case.card_message_id is None:
            await execute_all(self.services.engine, *await self._post_card(case))
        return case

    async def _post_card(self, case: Case, *, repeat: bool = False) -> list[Statement]:
        """Post the card (in a topic of its own where the chat has topics); `case` is
        updated, the statements that record it are returned. `repeat`: an earlier try may
        have reached the chat; the card says so."""
        chat_id = await self._chat_for(case)
        topic_id = case.topic_id
        if topic_id is None and await self._is_forum(chat_id):
            topic = await self.bot.create_forum_topic(chat_id, name=case.code)
            topic_id = topic.message_thread_id
            await self.services.casework.topic_made(case.id, chat_id, topic_id)
        taker = await self.services.staff.get(case.taken_by) if case.taken_by else None
        pings = [] if taker else await self.services.staff.to_ping(case.kind)
        if case.urgent and not taker:  # every coordinator and admin too, on duty or not
            seniors = [m for m in await self.services.staff.members() if m.role in SENIOR_ROLES]
            pings += [m for m in seniors if m not in pings]
        text = card_text(self.staff_t, case, taker=taker, pings=pings)
        message = await self.bot.send_message(
            chat_id,
            self._repeat_mark() + text if repeat else text,
            parse_mode=ParseMode.HTML,
            reply_markup=card_buttons(self.staff_t, case),
            message_thread_id=topic_id,
            protect_content=True,
        )
        case.staff_chat_id, case.card_message_id, case.topic_id = (
            chat_id,
            message.message_id,
            topic_id,
        )
        return self.services.casework.card_posted(case.id, chat_id, message.message_id, topic_id)

    def _where(self, case: Case) -> dict[str, Any]:
        """Under the card (in its topic), protected from forwarding and saving."""
        assert case.card_message_id is not None
        return {
            "protect_content": True,
            "message_thread_id": case.topic_id,
            "reply_parameters": ReplyParameters(
                case.card_message_id, allow_sending_without_reply=True
            ),
        }

    def _repeat_mark(self) -> str:
        return escape(self.staff_t.gettext(MAY_REPEAT)) + "\n\n"

    async def _card(self, item: OutboxItem) -> list[Statement]:
        case = await self._case(item)
        if case.card_message_id is not None:
            return []
        return await self._post_card(case, repeat=item.uncertain)

    async def _to_staff(self, item: OutboxItem) -> list[Statement]:
        case = await self._ensure_card(await self._case(item))
        assert case.staff_chat_id is not None
        p = item.payload
        taker = await self._taker(item, case)
        ping = f"\n🔔 {mention(taker)}" if taker else ""
        head = (self._repeat_mark() if item.uncertain else "") + f"💬 <b>{case.code}</b>"
        text = p.get("text") or ""
        from_chat = self._chat_or_none(p.get("from_chat"))
        if p["media"] != "text" and from_chat is None and not named(p):
            text = f"{text} {self.staff_t.gettext(FILE_UNLINKED)}".strip()
            p = {"media": "text"}
        if p["media"] == "text":
            ids = await self._texts_to_staff(case, head, text, ping)
        else:
            ids = await self._copy_to_staff(case, p, head, text, ping)
        # Sent: the row needs the person's chat no longer.
        linked = [self.services.casework.linked(case.staff_chat_id, i, case.id) for i in ids]
        return [*linked, self.services.outbox.erased(item.id)]

    async def _texts_to_staff(self, case: Case, head: str, text: str, ping: str) -> list[int]:
        """`text` under the head, in as many messages as it takes (never cut)."""
        assert case.staff_chat_id is not None
        room = TEXT_LIMIT - visible_length(head + ping) - 2
        ids = []
        for part in split_text(text, room) or [""]:
            sent = await self.bot.send_message(
                case.staff_chat_id,
                f"{head}: {escape(part)}{ping}",
                parse_mode=ParseMode.HTML,
                **self._where(case),
            )
            _parts_sent.set(_parts_sent.get() + 1)
            ids.append(sent.message_id)
        return ids

    async def _copy_to_staff(
        self, case: Case, p: dict[str, Any], head: str, text: str, ping: str
    ) -> list[int]:
        """A copy of the person's attachment; its text as a caption where it fits, else in
        messages of its own. One that cannot be copied becomes a note saying what was lost."""
        assert case.staff_chat_id is not None
        if named(p):
            return [await self._document_to_staff(case, p["file"], head, text, ping)]
        if (p.get("file") or {}).get("kind") in SPOILED:
            spoiled = await self._spoiled_to_staff(case, p["file"], head, text, ping)
            if spoiled is not None:
                return spoiled
        from_chat = self._chat(p["from_chat"])
        caption: str | None = f"{head} {escape(text)}{ping}"
        apart = p["media"] in NO_CAPTION or visible_length(caption or "") > CAPTION_LIMIT
        if apart:
            caption = None if p["media"] in NO_CAPTION else f"{head}{ping}"
        ids = await self._texts_to_staff(case, head, "", "") if p["media"] in NO_CAPTION else []
        try:
            copied = await self.bot.copy_message(
                case.staff_chat_id,
                from_chat,
                p["message_id"],
                caption=caption,
                parse_mode=ParseMode.HTML,
                **self._where(case),
            )
        except BadRequest as error:
            if chat_refuses(error) or "thread not found" in error.message.lower():
                raise
            lost = self.staff_t.gettext(LOST).format(kind=p["media"])
            return ids + await self._texts_to_staff(case, head, f"{lost}\n\n{text}", ping)
        _parts_sent.set(_parts_sent.get() + 1)
        ids.append(copied.message_id)
        if apart and text:
            ids += await self._texts_to_staff(case, head, text, ping)
        return ids

    async def _spoiled_to_staff(
        self, case: Case, file: dict[str, Any], head: str, text: str, ping: str
    ) -> list[int] | None:
        """A photo, video or GIF of the person behind a spoiler, with a note of what it is
        (bot/workers/care.py). None if Telegram refuses its file_id: it is copied instead."""
        assert case.staff_chat_id is not None
        marked = f"{head} · {content_note(self.staff_t, file['kind'])}"
        caption = f"{marked}\n{escape(text)}{ping}" if text else f"{marked}{ping}"
        apart = visible_length(caption) > CAPTION_LIMIT
        try:
            sent = await send_spoiled(
                self.bot,
                case.staff_chat_id,
                file,
                caption=f"{marked}{ping}" if apart else caption,
                parse_mode=ParseMode.HTML,
                **self._where(case),
            )
        except BadRequest as error:
            if chat_refuses(error) or "thread not found" in error.message.lower():
                raise
            return None
        _parts_sent.set(_parts_sent.get() + 1)
        if apart:
            return [sent.message_id, *await self._texts_to_staff(case, head, text, ping)]
        return [sent.message_id]

    async def _document_to_staff(
        self, case: Case, file: dict[str, Any], head: str, text: str, ping: str
    ) -> int:
        """A document under a neutral name (bot/workers/documents.py); too big, a note. A
        video or GIF sent as a file goes behind a spoiler, with a note of what it is."""
        assert case.staff_chat_id is not None
        where = {"parse_mode": ParseMode.HTML, **self._where(case)}
        spoiler, marked = {}, head
        if file.get("kind") in SPOILED:
            spoiler = {"has_spoiler": True}
            marked = f"{head} · {content_note(self.staff_t, file['kind'])}"
        caption = f"{marked} {escape(text)}{ping}"
        if visible_length(caption) > CAPTION_LIMIT:
            caption = f"{marked}{ping}"
            await self._texts_to_staff(case, head, text, ping)
        try:
            sent = await send_renamed(
                self.bot, case.staff_chat_id, file, caption=caption, **where, **spoiler
            )
        except TooBigToRename:
            note = escape(self.staff_t.gettext(TOO_BIG_FROM_PERSON))
            sent = await self.bot.send_message(case.staff_chat_id, f"{caption}\n{note}", **where)
        return sent.message_id

    async def _staff_notice(self, item: OutboxItem) -> list[Statement]:
        case = await self._ensure_card(await self._case(item))
        assert case.staff_chat_id is not None
        notice = NOTICES[item.payload["notice"]]
        if item.payload["notice"] == "reopened":  # the card and topic are open again too
            await self._redraw_card(case)
            if case.topic_id is not None:
                with contextlib.suppress(BadRequest):  # open already, or deleted
                    await self.bot.reopen_forum_topic(case.staff_chat_id, case.topic_id)
        text = f"{case.code}: " + self.staff_t.gettext(notice)
        await self.bot.send_message(case.staff_chat_id, text, **self._where(case))
        return []

    async def _redraw_card(self, case: Case, line: str | None = None) -> None:
        """The card as the case is now (with `line` below it), and its buttons."""
        assert case.staff_chat_id is not None and case.card_message_id is not None
        taker = await self.services.staff.get(case.taken_by) if case.taken_by else None
        text = card_text(self.staff_t, case, taker=taker)
        if line is not None:
            text += "\n\n" + escape(self.staff_t.gettext(line))
        markup = None if line == CARD_LINES["forgotten"] else card_buttons(self.staff_t, case)
        with contextlib.suppress(BadRequest):  # deleted, or unchanged
            await self.bot.edit_message_text(
                text,
                case.staff_chat_id,
                case.card_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )

    async def _card_update(self, item: OutboxItem) -> list[Statement]:
        """Redraw the card with what the person did (only the buttons that still apply; none
        once they asked to be forgotten), and close the topic of a closed case."""
        case = await self._case(item)
        if case.staff_chat_id is None or case.card_message_id is None:
            return []  # no card yet: it is drawn as the case is now
        said = item.payload.get("said")
        if said in CARD_LINES:
            await self._redraw_card(case, CARD_LINES[said])
        if case.status == "closed" and case.topic_id is not None:
            with contextlib.suppress(BadRequest):  # closed already, or deleted
                await self.bot.close_forum_topic(case.staff_chat_id, case.topic_id)
        return []

    async def _escalation(self, item: OutboxItem) -> list[Statement]:
        case = await self._ensure_card(await self._case(item))
        assert case.staff_chat_id is not None
        if case.status != "open" or case.taken_by is not None:
            return []  # taken or closed meanwhile: nothing to escalate
        seniors = [m for m in await self.services.staff.members() if m.role in SENIOR_ROLES]
        waited = int((datetime.now(UTC) - case.created_at).total_seconds() // 60)
        head = self.staff_t.ngettext(
            "⏰ Nobody has taken this case for {count} minute.",
            "⏰ Nobody has taken this case for {count} minutes.",
            waited,
        ).format(count=waited)
        body = card_text(self.staff_t, case, pings=seniors)
        sent = await self.bot.send_message(
            case.staff_chat_id,
            f"{head}\n\n{body}",
            parse_mode=ParseMode.HTML,
            reply_markup=card_buttons(self.staff_t, case),
            **self._where(case),
        )
        return [self.services.casework.linked(case.staff_chat_id, sent.message_id, case.id)]

    # -- the person's side ---------------------------------------------------------------------

    @staticmethod
    def silent() -> dict[str, Any]:
        """Sending options for a message to the person: no sound if it waited while they
        had left in a hurry; not sent if they leave in a hurry while it waits its turn."""
        options: dict[str, Any] = {"rate_limit_args": ToPerson()}
        return {**options, "disable_notification": True} if _quiet.get() else options

    def _person_chat(self, case: Case) -> int:
        if case.reply_to is None or case.person is None:
            raise Undeliverable("no_address")
        return self._chat(case.reply_to)

    def _chat(self, token: str) -> int:
        try:
            return int(self.services.identity.decrypt(token))
        except ValueError:  # trying again will not bring the key back: staff are told
            raise Undeliverable("key_lost") from None

    def _chat_or_none(self, token: str | None) -> int | None:
        """The person's chat, or None: erased by /forget, or unreadable with our keys."""
        try:
            return None if token is None else self._chat(token)
        except Undeliverable:
            return None

    def _remembered(self, case: Case, message_id: int) -> list[Statement]:
        """Keep the id for "Exit and clear chat" (unless the person erased the link)."""
        if case.person is None:
            return []
        return [self.services.chat_log.remembered(case.person, [message_id])]

    async def _to_person(self, item: OutboxItem) -> list[Statement]:
        case = await self._case(item)
        chat_id = self._person_chat(case)
        p = item.payload
        helpline = self.services.catalogues[case.locale].gettext("Helpline")
        text = p.get("text") or ""
        if p["media"] == "text":
            kept = await self._texts_to_person(case, chat_id, helpline, text)
            return [*kept, *self._answered(case, p)]
        caption: str | None = f"{helpline}: {text}" if text else helpline
        apart = p["media"] in NO_CAPTION or len(caption or "") > CAPTION_LIMIT
        if p["media"] in NO_CAPTION:
            # "Helpline:" above it, kept at once: the copy below may fail and be tried again.
            above = await self._texts_to_person(case, chat_id, helpline, "")
            await execute_all(self.services.engine, *above)
        if apart:
            caption = None if p["media"] in NO_CAPTION else helpline
        if named(p):
            try:
                sent = await send_renamed(
                    self.bot, chat_id, p["file"], caption=caption, **self.silent()
                )
            except TooBigToRename:
                raise Undeliverable("file_too_big") from None
            kept = self._remembered(case, sent.message_id)
            if apart and text:
                kept += await self._texts_to_person(case, chat_id, helpline, text)
            return [*kept, *self._answered(case, p)]
        copied = await self.bot.copy_message(
            chat_id, p["chat_id"], p["message_id"], caption=caption, **self.silent()
        )
        kept = self._remembered(case, copied.message_id)
        if apart and text:
            kept += await self._texts_to_person(case, chat_id, helpline, text)
        return [*kept, *self._answered(case, p)]

    def _answered(self, case: Case, payload: dict[str, Any]) -> list[Statement]:
        """Once an answer is sent: the first answer's time, and the volunteer's message
        marked "delivered". If nothing else waits, the mark is handed to this worker as it
        is written (it takes it next: no other worker need wake); built now, not before the
        send, so that its lease starts now (a long send must not leave it run out)."""
        hand_to = self._handed_here if self._room() else None
        if hand_to is None and payload.get("mark"):
            # A row added with this "sent": news, so the "sent" goes with a look (which
            # finds it) and nothing is handed over before it (not announced: it is not
            # written yet, and this worker looks next).
            self._announce()
        marked = delivered_mark(payload, case.topic_id, hand_to)
        return [*self.services.casework.answered(case), *marked]

    async def _texts_to_person(
        self, case: Case, chat_id: int, helpline: str, text: str
    ) -> list[Statement]:
        """A volunteer's text under "Helpline:", in as many messages as it takes."""
        kept = []
        for part in split_text(text, TEXT_LIMIT - len(helpline) - 2) or [""]:
            sent = await self.bot.send_message(
                chat_id, f"{helpline}: {part}" if part else f"{helpline}:", **self.silent()
            )
            kept += self._remembered(case, sent.message_id)
        return kept

    async def _confirmation(self, item: OutboxItem) -> list[Statement]:
        """The "Sent" screen with the reference code, when it could not be shown at once."""
        case = await self._case(item)
        p = item.payload
        chat_id = self._chat(p["chat"])
        markup = InlineKeyboardMarkup.de_json(p["markup"], self.bot)
        sent = await self.bot.send_message(chat_id, p["text"], reply_markup=markup, **self.silent())
        return [*self._remembered(case, sent.message_id), self.services.outbox.erased(item.id)]

    async def _closed_notice(self, item: OutboxItem) -> list[Statement]:
        case = await self._case(item)
        chat_id = self._person_chat(case)
        t = self.services.catalogues[case.locale]
        child = writes_as_child(case.affected, case.age_band)
        text = t.gettext(
            N_(
                "Your request {code} is closed. Thank you for writing to us.\n\n"
                "Did we help? Press 1 if not at all, 5 if very much."
            )
            if child
            else N_(
                "Your request {code} is closed. Thank you for trusting us.\n\n"
                "How much did we help? 1 is not at all, 5 is very much."
            )
        ).format(code=case.code)
        code = case.code.replace("-", "")
        markup = InlineKeyboardMarkup(
            [
                [button(str(n), callbacks.rating(code, n)) for n in range(1, 6)],
                [button(t.gettext(EXIT), callbacks.EXIT)],
            ]
        )
        sent = await self.bot.send_message(chat_id, text, reply_markup=markup, **self.silent())
        return self._remembered(case, sent.message_id)


def _reason(error: Exception) -> str:
    return error.reason if isinstance(error, Undeliverable) else type(error).__name__


async def run_sender(application: QorgauApplication) -> None:
    sender = Sender(application)
    application.bot_data["sender"] = sender
    await sender.run()


def register(application: QorgauApplication) -> None:
    application.workers.append(run_sender)
