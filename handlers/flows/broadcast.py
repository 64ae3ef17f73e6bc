"""/broadcast for admins: compose (text or photo, one version per language), preview,
confirm; pause, resume or cancel from the progress message. The sending itself is
bot/workers/broadcaster.py."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.app import QorgauApplication, QorgauContext
from bot.settings import LOCALES
from handlers.access import ADMINS, allowed
from handlers.callbacks import ComposeAction, ComposeButton, ProgressAction, ProgressButton
from handlers.screens.broadcast import send_version
from handlers.screens.campaigns import confirm_screen, night_now, night_now_screen, quiet_text
from handlers.screens.common import LANGUAGE_NAMES, Viewer, button, reply, viewer
from models.enums import BroadcastStatus

COMPOSE, CONFIRM = "compose", "confirm"
END = ConversationHandler.END


# -- composing ---------------------------------------------------------------------------------


def draft(context: QorgauContext) -> dict[str, Any]:
    assert context.user_data is not None
    value: dict[str, Any] = context.user_data.setdefault("broadcast", {"versions": {}})
    return value


@allowed(ADMINS)
async def begin(update: Update, context: QorgauContext) -> str | int:
    v = await viewer(update, context)
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
                ComposeButton(ComposeAction.ADD, code).data,
            )
        ]
        for code in LOCALES
        if code not in versions
    ]
    rows.append(
        [
            button(v._("Preview"), ComposeButton(ComposeAction.PREVIEW).data),
            button(v._("Cancel"), ComposeButton(ComposeAction.CANCEL).data),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def take_version(update: Update, context: QorgauContext) -> str:
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


@allowed(ADMINS)
async def on_button(update: Update, context: QorgauContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    v = await viewer(update, context)
    d = draft(context)
    button = ComposeButton.parse(query.data)
    action = button.action if button is not None else ComposeAction.CANCEL
    if action is ComposeAction.ADD and button is not None and button.locale in LOCALES:
        d["target"] = button.locale
        await query.edit_message_text(
            v._("Send the version in {language}.").format(language=LANGUAGE_NAMES[button.locale])
        )
        return COMPOSE
    if action is ComposeAction.PREVIEW and d["versions"]:
        return await preview(update, context, v, d)
    if action is ComposeAction.SEND and d["versions"] and night_now(v):
        text, markup = night_now_screen(v, quiet_text(v))
        await query.edit_message_text(text, reply_markup=markup)
        return CONFIRM
    if action in (ComposeAction.SEND, ComposeAction.SEND_NIGHT) and d["versions"]:
        return await send(update, context, v, d, night_ok=action is ComposeAction.SEND_NIGHT)
    await cancel_compose(update, context)
    await query.edit_message_text(v._("Cancelled. Nothing was sent."))
    return END


async def preview(update: Update, context: QorgauContext, v: Viewer, d: dict[str, Any]) -> str:
    """Each version exactly as subscribers get it, then who gets it, Send and Schedule."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None
    for locale, version in d["versions"].items():
        await reply(update, f"— {LANGUAGE_NAMES[locale]} —")
        await send_version(context.bot, v.services, chat.id, version, locale)
    audience = d.get("audience", "")
    count = await v.services.broadcasts.subscriber_count(audience)
    text, markup = confirm_screen(v, count, audience)
    await message.reply_text(text, reply_markup=markup)
    return CONFIRM


async def send(
    update: Update, context: QorgauContext, v: Viewer, d: dict[str, Any], *, night_ok: bool
) -> int:
    query, chat, user = update.callback_query, update.effective_chat, update.effective_user
    assert query is not None and chat is not None and user is not None
    broadcasts = v.services.broadcasts
    broadcast_id = await broadcasts.start(
        user.id,
        chat.id,
        d["versions"],
        admin_locale=v.locale,
        audience=d.get("audience", ""),
        night_ok=night_ok,
    )
    broadcaster = context.bot_data.get("broadcaster")
    if broadcaster is not None:  # first, so the first message goes out at once
        broadcaster.wake.set()
    await query.edit_message_text(v._("Broadcast #{number} starts.").format(number=broadcast_id))
    progress = await context.bot.send_message(
        chat.id, v._("Broadcast #{number}: starting…").format(number=broadcast_id)
    )
    await broadcasts.set_progress_message(broadcast_id, progress.message_id)
    # A small broadcast may be over before its progress message existed: show the end now.
    started = await broadcasts.get(broadcast_id)
    if broadcaster is not None and started is not None and started.status in FINISHED:
        done = await broadcasts.progress(broadcast_id)
        await broadcaster.show_progress(broadcast_id, done, 0.0, started.status)
    await cancel_compose(update, context)
    return END


async def cancel_compose(update: Update, context: QorgauContext) -> int:
    assert context.user_data is not None
    context.user_data.pop("broadcast", None)
    return END


FINISHED = (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)
STATUS_AFTER = {
    ProgressAction.PAUSE: BroadcastStatus.PAUSED,
    ProgressAction.RESUME: BroadcastStatus.RUNNING,
    ProgressAction.CANCEL: BroadcastStatus.CANCELLED,
}


@allowed(ADMINS)
async def control(update: Update, context: QorgauContext) -> None:
    """Pause, resume or cancel from the progress message (admins only)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    button = ProgressButton.parse(query.data)
    if button is None:
        await query.answer()
        return
    status, broadcast_id = STATUS_AFTER[button.action], button.broadcast_id
    await services.broadcasts.set_status(broadcast_id, status)
    await query.answer()
    broadcaster = context.bot_data.get("broadcaster")
    if broadcaster is not None:
        broadcaster.wake.set()
        progress = await services.broadcasts.progress(broadcast_id)
        await broadcaster.show_progress(broadcast_id, progress, 0.0, status)


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
                    CallbackQueryHandler(on_button, pattern=ComposeButton.pattern),
                ],
                CONFIRM: [CallbackQueryHandler(on_button, pattern=ComposeButton.pattern)],
            },
            fallbacks=[CommandHandler("cancel", cancel_compose)],
            name="broadcast",
            allow_reentry=True,
        )
    )
    application.add_handler(CallbackQueryHandler(control, pattern=ProgressButton.pattern))
