"""The outbox sender: delivers what the bot owes, with retries; never drops a staff message.

Cards, follow-ups and notices to staff are retried until Telegram takes them (a 429 waits
its retry_after; other failures back off). Messages to a person stop only when Telegram says
they can never arrive (blocked, deactivated), and then the staff are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import Executable
from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.app import QorgauApplication, Services
from bot.db import execute_all
from bot.i18n import N_
from bot.services.outbox import TO_PERSON, OutboxItem
from bot.services.staff import pick_route
from bot.telegram_http import in_doubt, retry_after_seconds
from handlers.common import EXIT, button
from handlers.staff_cards import card_buttons, card_text, mention
from models import Case

log = logging.getLogger("qorgau.delivery")

# Copies of these cannot carry a caption: "Helpline" goes in a message of its own.
NO_CAPTION = {"sticker", "video_note"}
CAPTION_LIMIT = 1000  # captions over 1,023 characters fail in forum topics

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
}


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
        self._forum: dict[int, bool] = {}
        self.delivered = 0

    @property
    def staff_t(self) -> Any:
        return self.services.catalogues[self.services.settings.default_locale]

    async def run(self) -> None:
        self.services.outbox.on_new(self.wake.set)
        with contextlib.suppress(Exception):  # the database may be away: the loop copes
            await self.services.outbox.due_now()
        while True:
            try:
                item = await self.services.outbox.claim_next()
            except Exception as error:  # the database is away: wait, try again
                log.warning("outbox claim failed: %s", type(error).__name__)
                await asyncio.sleep(1)
                continue
            if item is None:
                await self._sleep()
                continue
            try:
                await self.deliver(item)
            except Exception as error:  # the database went away mid-way: the row's lease
                # runs out and it is sent again, marked as possibly repeated
                log.warning("outbox bookkeeping failed: %s", type(error).__name__)
                await asyncio.sleep(1)

    async def _sleep(self) -> None:
        due = await self.services.outbox.next_due()
        delay = 1.0
        if due is not None:
            delay = min(max((due - datetime.now(UTC)).total_seconds(), 0.01), 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), delay)
        self.wake.clear()

    async def deliver(self, item: OutboxItem) -> None:
        """Send a claimed row; what the sending changed (card ids, links, message ids kept
        for "Exit and clear chat") is written in the transaction that marks it sent."""
        try:
            outcome: list[Executable] = await getattr(self, f"_{item.kind}")(item)
        except asyncio.CancelledError:
            # Stopping mid-send: hand the row back at once instead of holding its lease (the
            # request may have gone out: the next try is marked).
            await asyncio.shield(self._retry(item, "stopped", timedelta(0), in_doubt=True))
            raise
        except Exception as error:
            await asyncio.shield(self._after_failure(item, error))
            return
        await asyncio.shield(self.services.outbox.sent(item.id, *outcome))
        self.delivered += 1

    async def _retry(
        self, item: OutboxItem, error: str, after: timedelta | None, *, in_doubt: bool = False
    ) -> None:
        # Once a try may have arrived, every later one is marked, whatever stops it.
        doubt = in_doubt or item.uncertain
        await self.services.outbox.retry(item.id, item.attempts, error, after, in_doubt=doubt)

    async def _after_failure(self, item: OutboxItem, error: Exception) -> None:
        """Decide between trying again later and giving up (only for a person we cannot
        reach: then the staff hear of it). Staff-bound messages are never given up."""
        outbox = self.services.outbox
        to_person = item.kind in TO_PERSON
        if isinstance(error, RetryAfter):
            after = timedelta(seconds=retry_after_seconds(error))
            await self._retry(item, "RetryAfter", after)
        elif isinstance(error, Forbidden | Undeliverable) and to_person:
            reason = error.reason if isinstance(error, Undeliverable) else "blocked"
            if item.kind == "confirmation":  # only the person's business
                await outbox.failed(item.id, reason, tell_staff_of=None, erase=True)
            else:
                await outbox.failed(item.id, reason, tell_staff_of=item.case_id)
            self.wake.set()
        elif isinstance(error, BadRequest) and "thread not found" in error.message.lower():
            # The case's forum topic was deleted: a new topic and card on the next try.
            if item.case_id is not None:
                await self._forget_card(item.case_id)
            await outbox.retry(item.id, 0, "thread not found", timedelta(0))
        elif isinstance(error, BadRequest) and to_person:
            await outbox.failed(item.id, "undeliverable", tell_staff_of=item.case_id)
            self.wake.set()
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

    async def _forget_card(self, case_id: int) -> None:
        async with self.services.sessions.begin() as session:
            case = await session.get(Case, case_id)
            if case is not None:
                case.card_message_id, case.topic_id = None, None

    # -- staff side ----------------------------------------------------------------------------

    async def _case(self, item: OutboxItem) -> Case:
        assert item.case_id is not None
        case = await self.services.casework.by_id(item.case_id)
        if case is None:
            raise Undeliverable("case gone")
        return case

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

    async def _post_card(self, case: Case, *, repeat: bool = False) -> list[Executable]:
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
        text = card_text(self.staff_t, case, taker=taker, pings=pings)
        message = await self.bot.send_message(
            chat_id,
            self._repeat_mark() + text if repeat else text,
            parse_mode=ParseMode.HTML,
            reply_markup=card_buttons(self.staff_t, case),
            message_thread_id=topic_id,
        )
        case.staff_chat_id, case.card_message_id, case.topic_id = (
            chat_id,
            message.message_id,
            topic_id,
        )
        return self.services.casework.card_posted(case.id, chat_id, message.message_id, topic_id)

    def _where(self, case: Case) -> dict[str, Any]:
        assert case.card_message_id is not None
        return {
            "message_thread_id": case.topic_id,
            "reply_parameters": ReplyParameters(
                case.card_message_id, allow_sending_without_reply=True
            ),
        }

    def _repeat_mark(self) -> str:
        return escape(self.staff_t.gettext(MAY_REPEAT)) + "\n\n"

    async def _card(self, item: OutboxItem) -> list[Executable]:
        case = await self._case(item)
        if case.card_message_id is not None:
            return []
        return await self._post_card(case, repeat=item.uncertain)

    async def _to_staff(self, item: OutboxItem) -> list[Executable]:
        case = await self._ensure_card(await self._case(item))
        assert case.staff_chat_id is not None
        p = item.payload
        taker = await self.services.staff.get(case.taken_by) if case.taken_by else None
        ping = f"\n🔔 {mention(taker)}" if taker else ""
        head = (self._repeat_mark() if item.uncertain else "") + f"💬 <b>{case.code}</b>"
        text = escape(p.get("text") or "")
        if p["media"] == "text":
            sent = await self.bot.send_message(
                case.staff_chat_id,
                f"{head}: {text}{ping}",
                parse_mode=ParseMode.HTML,
                **self._where(case),
            )
            message_id = sent.message_id
        else:
            from_chat = int(self.services.identity.decrypt(p["from_chat"]))
            caption = None if p["media"] in NO_CAPTION else f"{head} {text[:CAPTION_LIMIT]}{ping}"
            copied = await self.bot.copy_message(
                case.staff_chat_id,
                from_chat,
                p["message_id"],
                caption=caption,
                parse_mode=ParseMode.HTML,
                **self._where(case),
            )
            message_id = copied.message_id
        return [self.services.casework.linked(case.staff_chat_id, message_id, case.id)]

    async def _staff_notice(self, item: OutboxItem) -> list[Executable]:
        case = await self._ensure_card(await self._case(item))
        assert case.staff_chat_id is not None
        notice = NOTICES[item.payload["notice"]]
        text = f"{case.code}: " + self.staff_t.gettext(notice)
        await self.bot.send_message(case.staff_chat_id, text, **self._where(case))
        return []

    async def _escalation(self, item: OutboxItem) -> list[Executable]:
        case = await self._ensure_card(await self._case(item))
        assert case.staff_chat_id is not None
        if case.status != "open" or case.taken_by is not None:
            return []  # taken or closed meanwhile: nothing to escalate
        seniors = [
            m for m in await self.services.staff.members() if m.role in ("coordinator", "admin")
        ]
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

    def _person_chat(self, case: Case) -> int:
        if case.reply_to is None or case.person is None:
            raise Undeliverable("no_address")
        return int(self.services.identity.decrypt(case.reply_to))

    def _remembered(self, case: Case, message_id: int) -> list[Executable]:
        """Keep the id for "Exit and clear chat" (unless the person erased the link)."""
        if case.person is None:
            return []
        return [self.services.chat_log.remembered(case.person, [message_id])]

    async def _to_person(self, item: OutboxItem) -> list[Executable]:
        case = await self._case(item)
        chat_id = self._person_chat(case)
        p = item.payload
        helpline = self.services.catalogues[case.locale].gettext("Helpline")
        answered = self.services.casework.answered(case.id)
        if p["media"] == "text":
            sent = await self.bot.send_message(chat_id, f"{helpline}: {p.get('text') or ''}")
            return [*self._remembered(case, sent.message_id), answered]
        caption: str | None = f"{helpline}: {p['text']}" if p.get("text") else helpline
        if p["media"] in NO_CAPTION:
            sent = await self.bot.send_message(chat_id, f"{helpline}:")
            # Kept at once: the copy below may fail and be tried again.
            await execute_all(self.services.engine, *self._remembered(case, sent.message_id))
            caption = None
        copied = await self.bot.copy_message(
            chat_id, p["chat_id"], p["message_id"], caption=caption
        )
        return [*self._remembered(case, copied.message_id), answered]

    async def _confirmation(self, item: OutboxItem) -> list[Executable]:
        """The "Sent" screen with the reference code, when it could not be shown at once."""
        case = await self._case(item)
        p = item.payload
        chat_id = int(self.services.identity.decrypt(p["chat"]))
        markup = InlineKeyboardMarkup.de_json(p["markup"], self.bot)
        sent = await self.bot.send_message(chat_id, p["text"], reply_markup=markup)
        return [*self._remembered(case, sent.message_id), self.services.outbox.erased(item.id)]

    async def _closed_notice(self, item: OutboxItem) -> list[Executable]:
        case = await self._case(item)
        chat_id = self._person_chat(case)
        t = self.services.catalogues[case.locale]
        text = t.gettext(
            "Your request {code} is closed. Thank you for trusting us.\n\n"
            "How much did we help? 1 is not at all, 5 is very much."
        ).format(code=case.code)
        code = case.code.replace("-", "")
        markup = InlineKeyboardMarkup(
            [
                [button(str(n), f"r:{code}:{n}") for n in range(1, 6)],
                [button(t.gettext(EXIT), "x")],
            ]
        )
        sent = await self.bot.send_message(chat_id, text, reply_markup=markup)
        return self._remembered(case, sent.message_id)


async def run_sender(application: QorgauApplication) -> None:
    sender = Sender(application)
    application.bot_data["sender"] = sender
    await sender.run()


def register(application: QorgauApplication) -> None:
    application.workers.append(run_sender)
