"""/broadcast for admins: compose (text or photo, one version per language), preview,
confirm; then a background sender paced at BROADCAST_RATE with a live progress message.

The pacing is the broadcast's own: a 429 pauses this broadcast only, never the replies to
people (no global rate limiter stands in their way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.app import QorgauApplication, Services, services_of
from bot.db import BROADCAST_LOCK, if_first
from bot.i18n import N_
from bot.services.broadcasts import Progress, Recipient
from bot.settings import LOCALES
from bot.telegram_http import in_doubt, retry_after_seconds
from handlers.common import EXIT, Viewer, button, viewer
from handlers.language import LANGUAGE_NAMES
from handlers.staff_admin import admin_viewer, reply

log = logging.getLogger("qorgau.broadcast")
COMPOSE, CONFIRM = "compose", "confirm"
END = ConversationHandler.END
PROGRESS_EVERY = 2.0  # seconds between edits of the progress message


def broadcast_markup(services: Services, locale: str) -> InlineKeyboardMarkup:
    t = services.catalogues[locale]
    return InlineKeyboardMarkup(
        [[button(t.gettext("Unsubscribe"), "sub:off")], [button(t.gettext(EXIT), "x")]]
    )


async def send_version(
    context_bot: Any, services: Services, chat_id: int, version: dict[str, Any], locale: str
) -> int:
    """Send one version exactly as subscribers get it: silently, with its buttons."""
    markup = broadcast_markup(services, locale)
    if version.get("photo"):
        sent = await context_bot.send_photo(
            chat_id,
            version["photo"],
            caption=version.get("text") or None,
            disable_notification=True,
            reply_markup=markup,
        )
    else:
        sent = await context_bot.send_message(
            chat_id, version["text"], disable_notification=True, reply_markup=markup
        )
    return int(sent.message_id)


# -- composing ---------------------------------------------------------------------------------


def draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    assert context.user_data is not None
    value: dict[str, Any] = context.user_data.setdefault("broadcast", {"versions": {}})
    return value


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    v = await admin_viewer(update, context)
    if v is None:
        return END
    default = v.services.settings.default_locale
    assert context.user_data is not None
    context.user_data["broadcast"] = {"versions": {}, "target": default}
    await reply(
        update,
        v._(
            "Send the message in {language}: text, or a photo with a caption. "
            "People whose language has no version of its own get this one."
        ).format(language=LANGUAGE_NAMES[default]),
    )
    return COMPOSE


def menu_markup(v: Viewer, versions: dict[str, Any]) -> InlineKeyboardMarkup:
    rows = [
        [
            button(
                v._("Add a version in {language}").format(language=LANGUAGE_NAMES[code]),
                f"bc:add:{code}",
            )
        ]
        for code in LOCALES
        if code not in versions
    ]
    rows.append([button(v._("Preview"), "bc:preview"), button(v._("Cancel"), "bc:cancel")])
    return InlineKeyboardMarkup(rows)


async def take_version(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    message = update.effective_message
    assert message is not None
    v = await viewer(update, context)
    d = draft(context)
    photo = message.photo[-1].file_id if message.photo else None
    text = message.text or message.caption or ""
    if not text and not photo:
        await reply(update, v._("Send text, or a photo with a caption."))
        return COMPOSE
    d["versions"][d["target"]] = {"text": text, "photo": photo}
    assert message.chat is not None
    await message.reply_text(
        v._("Saved the version in {language}. Add another language, or preview.").format(
            language=LANGUAGE_NAMES[d["target"]]
        ),
        reply_markup=menu_markup(v, d["versions"]),
    )
    return COMPOSE


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_chat is not None
    v = await admin_viewer(update, context)
    await query.answer()
    if v is None:
        return END
    d = draft(context)
    action, *rest = query.data.removeprefix("bc:").split(":")
    if action == "add" and rest and rest[0] in LOCALES:
        d["target"] = rest[0]
        await query.edit_message_text(
            v._("Send the version in {language}.").format(language=LANGUAGE_NAMES[rest[0]])
        )
        return COMPOSE
    if action == "preview" and d["versions"]:
        for locale, version in d["versions"].items():
            await reply(update, f"— {LANGUAGE_NAMES[locale]} —")
            await send_version(context.bot, v.services, update.effective_chat.id, version, locale)
        count = await v.services.broadcasts.subscriber_count()
        rate = v.services.settings.broadcast_rate
        text = v.n_(
            "This goes to {count} subscriber, silently, at most {rate} per second. Send?",
            "This goes to {count} subscribers, silently, at most {rate} per second. Send?",
            count,
        ).format(count=count, rate=f"{rate:g}")
        markup = InlineKeyboardMarkup(
            [[button(v._("Send"), "bc:send"), button(v._("Cancel"), "bc:cancel")]]
        )
        assert update.effective_message is not None
        await update.effective_message.reply_text(text, reply_markup=markup)
        return CONFIRM
    if action == "send" and d["versions"]:
        assert update.effective_user is not None
        services = v.services
        broadcast_id = await services.broadcasts.start(
            update.effective_user.id, update.effective_chat.id, d["versions"]
        )
        await query.edit_message_text(
            v._("Broadcast #{number} starts.").format(number=broadcast_id)
        )
        progress = await context.bot.send_message(
            update.effective_chat.id,
            v._("Broadcast #{number}: starting…").format(number=broadcast_id),
        )
        await services.broadcasts.set_progress_message(broadcast_id, progress.message_id)
        broadcaster = context.bot_data.get("broadcaster")
        if broadcaster is not None:
            broadcaster.wake.set()
        await cancel_compose(update, context)
        return END
    await cancel_compose(update, context)
    await query.edit_message_text(v._("Cancelled. Nothing was sent."))
    return END


async def cancel_compose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    context.user_data.pop("broadcast", None)
    return END


# -- sending -----------------------------------------------------------------------------------


class Broadcaster:
    def __init__(self, application: QorgauApplication) -> None:
        self.app = application
        self.services = application.services
        self.wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                # One instance sends at a time, so BROADCAST_RATE holds for the bot as a whole.
                async with if_first(self.services.engine, BROADCAST_LOCK) as mine:
                    if mine:
                        await self.send_running()
            except Exception as error:  # the database is away: wait and try again
                log.warning("broadcast loop: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 2.0)
            self.wake.clear()

    async def send_running(self) -> None:
        abandoned = await self.services.broadcasts.abandon_in_flight()
        if abandoned:
            log.warning(
                "%s broadcast messages were in flight at a crash: not sent again", abandoned
            )
        for broadcast_id in await self.services.broadcasts.running():
            await self.send(broadcast_id)

    async def send(self, broadcast_id: int) -> None:
        broadcasts = self.services.broadcasts
        rate = self.services.settings.broadcast_rate
        interval = 1.0 / rate
        batch = max(1, min(int(rate), 200))  # about a second's worth per transaction
        started, sent_here = time.monotonic(), 0
        next_slot, last_progress = time.monotonic(), 0.0
        while True:
            recipients = await broadcasts.claim(broadcast_id, batch)
            if not recipients:
                progress = await broadcasts.progress(broadcast_id)
                broadcast = await broadcasts.get(broadcast_id)
                status = broadcast.status if broadcast else "done"
                if progress.left == 0 and status == "running":
                    await broadcasts.set_status(broadcast_id, "done")
                    status = "done"
                elapsed = time.monotonic() - started
                await self.show_progress(
                    broadcast_id, progress, sent_here / max(elapsed, 1e-6), status
                )
                return
            tasks: list[asyncio.Task[tuple[str, float]]] = []
            try:
                for recipient in recipients:
                    delay = next_slot - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    # At least one interval between two sends, however late the loop runs.
                    next_slot = max(next_slot, time.monotonic()) + interval
                    tasks.append(asyncio.create_task(self.send_one(broadcast_id, recipient)))
                outcomes = await asyncio.shield(asyncio.gather(*tasks))
            except asyncio.CancelledError:
                # Stopping: let what is in flight finish (each records itself) and give back
                # the rest.
                await asyncio.gather(*tasks, return_exceptions=True)
                unsent = [r.person for r in recipients[len(tasks) :]]
                await asyncio.shield(self.services.broadcasts.give_back(broadcast_id, unsent))
                raise
            sent_here += sum(status == "sent" for status, _ in outcomes)
            pause = max(wait for _, wait in outcomes)
            if pause:
                # Telegram asked to slow down: this broadcast waits; people's replies do not.
                next_slot = time.monotonic() + pause
            if time.monotonic() - last_progress >= PROGRESS_EVERY:
                last_progress = time.monotonic()
                elapsed = last_progress - started
                await self.show_progress(
                    broadcast_id,
                    await broadcasts.progress(broadcast_id),
                    sent_here / max(elapsed, 1e-6),
                    "running",
                )

    async def send_one(self, broadcast_id: int, r: Recipient) -> tuple[str, float]:
        """Send to one recipient, marked just before and recorded just after (with the
        message id kept for "Exit and clear chat"): (status, seconds to pause)."""
        broadcasts = self.services.broadcasts
        if not await broadcasts.sending(broadcast_id, r.person):
            return "taken", 0.0
        pause, kept = 0.0, []
        try:
            message_id = await send_version(
                self.app.bot, self.services, r.chat_id, r.version, r.locale
            )
            status = "sent"
            kept = [self.services.chat_log.remembered(r.person, [message_id])]
        except RetryAfter as error:
            status, pause = "pending", retry_after_seconds(error)  # not sent: it goes later
        except Forbidden:
            status = "blocked"
        except BadRequest:
            status = "failed"
        except TelegramError as error:
            # No answer: it may have arrived, so it is never sent again; Telegram failed
            # (5xx): it did not, so it goes again later.
            status = "unknown" if in_doubt(error) else "error"
        await asyncio.shield(broadcasts.record(broadcast_id, r.person, status, *kept))
        return status, pause

    async def show_progress(
        self, broadcast_id: int, progress: Progress, rate: float, status: str
    ) -> None:
        broadcast = await self.services.broadcasts.get(broadcast_id)
        if broadcast is None or broadcast.progress_message_id is None:
            return
        t = self.services.catalogues[self.services.settings.default_locale]
        c = progress.counts
        minutes_left = round(progress.left / max(rate, 0.1) / 60) if progress.left else 0
        text = t.gettext(
            "Broadcast #{number}: {status}\n"
            "Sent: {sent} · failed: {failed} · blocked: {blocked} · skipped: {skipped}\n"
            "Left: {left} of {total}\n"
            "Rate: {rate} per second · about {minutes} min left"
        ).format(
            number=broadcast_id,
            status=t.gettext(STATUS.get(status, status)),
            sent=c.get("sent", 0),
            failed=c.get("failed", 0) + c.get("unknown", 0),
            blocked=c.get("blocked", 0),
            skipped=c.get("skipped", 0),
            left=progress.left,
            total=progress.total,
            rate=f"{rate:.1f}",
            minutes=minutes_left,
        )
        buttons = {
            "running": [(t.gettext("Pause"), "pause"), (t.gettext("Cancel"), "cancel")],
            "paused": [(t.gettext("Resume"), "resume"), (t.gettext("Cancel"), "cancel")],
        }.get(status, [])
        markup = (
            InlineKeyboardMarkup(
                [[button(label, f"bp:{broadcast_id}:{action}") for label, action in buttons]]
            )
            if buttons
            else None
        )
        with contextlib.suppress(TelegramError):
            await self.app.bot.edit_message_text(
                text,
                chat_id=broadcast.admin_chat_id,
                message_id=broadcast.progress_message_id,
                reply_markup=markup,
            )


STATUS = {
    "running": N_("sending"),
    "paused": N_("paused"),
    "cancelled": N_("cancelled"),
    "done": N_("done"),
}


async def control(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Pause, resume or cancel from the progress message (admins only)."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    services = services_of(context)
    t = services.catalogues[services.settings.default_locale]
    if not await services.staff.is_admin(update.effective_user.id):
        await query.answer(t.gettext("Only admins can do this."), show_alert=True)
        return
    _, number, action = query.data.split(":")
    status = {"pause": "paused", "resume": "running", "cancel": "cancelled"}[action]
    broadcast_id = int(number)
    await services.broadcasts.set_status(broadcast_id, status)
    await query.answer()
    broadcaster: Broadcaster | None = context.bot_data.get("broadcaster")
    if broadcaster is not None:
        broadcaster.wake.set()
        progress = await services.broadcasts.progress(broadcast_id)
        await broadcaster.show_progress(broadcast_id, progress, 0.0, status)


async def run_broadcaster(application: QorgauApplication) -> None:
    broadcaster = Broadcaster(application)
    application.bot_data["broadcaster"] = broadcaster
    await broadcaster.run()


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("broadcast", begin, filters=private)],
            states={
                COMPOSE: [
                    MessageHandler(
                        private & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND, take_version
                    ),
                    CallbackQueryHandler(on_button, pattern=r"^bc:"),
                ],
                CONFIRM: [CallbackQueryHandler(on_button, pattern=r"^bc:")],
            },
            fallbacks=[CommandHandler("cancel", cancel_compose)],
            name="broadcast",
            allow_reentry=True,
        )
    )
    application.add_handler(
        CallbackQueryHandler(control, pattern=r"^bp:\d+:(pause|resume|cancel)$")
    )
    application.workers.append(run_broadcaster)
