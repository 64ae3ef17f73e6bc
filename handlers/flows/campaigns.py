"""Campaigns for admins: the audience (a language, or a region people chose to share),
a time (in BROADCAST_TIMEZONE; the quiet hours need a confirmation), /campaigns to see,
re-time or cancel scheduled ones and read the latest reports. The draft comes from the
/broadcast conversation (user_data["broadcast"]); the sending is bot/workers/broadcaster.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.app import QorgauApplication, QorgauContext
from bot.services.campaigns import local, parse_when
from bot.settings import LOCALES
from handlers import callbacks
from handlers.access import ADMINS, may, refuse
from handlers.screens.campaigns import (
    REGION_NAMES,
    ask_time_text,
    audience_markup,
    campaigns_screen,
    confirm_screen,
    is_quiet,
    night_time_screen,
    quiet_text,
    region_buttons,
)
from handlers.screens.common import Viewer, reply, viewer

WHEN, NIGHT = "when", "night"
END = ConversationHandler.END


async def admin_viewer(update: Update, context: QorgauContext) -> Viewer | None:
    """The viewer if they are an admin; anyone else is refused (and audited): None."""
    user = update.effective_user
    if user is None or not await may(context, user.id, ADMINS):
        await refuse(update, context, ADMINS, "campaigns")
        return None
    return await viewer(update, context)


async def pressed(
    update: Update, context: QorgauContext
) -> tuple[CallbackQuery, str, Viewer | None]:
    """The button pressed, its data, and the admin who pressed it (None: not an admin)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await admin_viewer(update, context)
    if v is not None:
        await query.answer()
    return query, query.data, v


def user_data(context: QorgauContext) -> dict[str, Any]:
    assert context.user_data is not None
    return context.user_data


async def show_confirm(update: Update, v: Viewer, draft: dict[str, Any]) -> None:
    audience = draft.get("audience", "")
    count = await v.services.broadcasts.subscriber_count(audience)
    text, markup = confirm_screen(v, count, audience)
    query = update.callback_query
    assert query is not None
    await query.edit_message_text(text, reply_markup=markup)


async def choose_audience(update: Update, context: QorgauContext) -> None:
    """The audience of the draft in the /broadcast conversation."""
    query, data, v = await pressed(update, context)
    draft = user_data(context).get("broadcast")
    if v is None or not draft:
        return
    choice = callbacks.parse_audience(data)
    if choice == "":
        await query.edit_message_text(v._("Who should get it?"), reply_markup=audience_markup(v))
        return
    if choice == "regions":
        rows = region_buttons(v, callbacks.AUDIENCE_REGION_PREFIX)
        await query.edit_message_text(
            v._("Only subscribers who chose to share their region get it. Which region?"),
            reply_markup=InlineKeyboardMarkup(rows),
        )
        return
    kind, _, value = choice.partition(":")
    valid = (kind == "lang" and value in LOCALES) or (kind == "region" and value in REGION_NAMES)
    draft["audience"] = choice if valid else ""
    await show_confirm(update, v, draft)


async def ask_time(update: Update, context: QorgauContext) -> str | int:
    query, data, v = await pressed(update, context)
    if v is None:
        return END
    target = callbacks.parse_campaign_time(data)
    if target == "new" and not user_data(context).get("broadcast", {}).get("versions"):
        await query.edit_message_text(v._("This draft is gone. Start again with /broadcast."))
        return END
    user_data(context)["campaign_time"] = {"target": target}
    await query.edit_message_text(ask_time_text(v, v.services.settings))
    return WHEN


async def take_time(update: Update, context: QorgauContext) -> str | int:
    message = update.effective_message
    assert message is not None and message.text is not None
    v = await admin_viewer(update, context)
    if v is None:
        return END
    settings = v.services.settings
    when = parse_when(message.text, datetime.now(UTC), settings.broadcast_timezone)
    if when is None:
        await reply(update, v._("I could not read that time.") + "\n" + ask_time_text(v, settings))
        return WHEN
    pending = user_data(context).setdefault("campaign_time", {})
    pending["when"] = when.isoformat()
    if is_quiet(v, when):
        text, markup = night_time_screen(v, local(when, settings.broadcast_timezone), quiet_text(v))
        await message.reply_text(text, reply_markup=markup)
        return NIGHT
    return await settle_time(update, context, v, night_ok=False)


async def on_night(update: Update, context: QorgauContext) -> str | int:
    query, data, v = await pressed(update, context)
    if v is None:
        return END
    if data == callbacks.campaign_night(False):
        await query.edit_message_text(ask_time_text(v, v.services.settings))
        return WHEN
    return await settle_time(update, context, v, night_ok=True)


async def settle_time(update: Update, context: QorgauContext, v: Viewer, *, night_ok: bool) -> int:
    """Schedule the draft, or move a scheduled campaign, to the time given."""
    data = user_data(context)
    pending = data.pop("campaign_time", {})
    when = datetime.fromisoformat(pending["when"])
    shown = local(when, v.services.settings.broadcast_timezone)
    broadcasts = v.services.broadcasts
    if pending.get("target") == "new":
        draft = data.pop("broadcast", None) or {}
        assert update.effective_user is not None and update.effective_chat is not None
        number = await broadcasts.start(
            update.effective_user.id,
            update.effective_chat.id,
            draft["versions"],
            admin_locale=v.locale,
            audience=draft.get("audience", ""),
            at=when,
            night_ok=night_ok,
        )
        text = v._(
            "Campaign #{number} is scheduled for {when}. /campaigns shows it: you can change "
            "the time or cancel it there."
        )
    else:
        number = int(pending["target"])
        moved = await broadcasts.reschedule(number, when, night_ok)
        text = (
            v._("Campaign #{number} now goes out at {when}.")
            if moved
            else v._("Campaign #{number} has already started or was cancelled.")
        )
    broadcaster = context.bot_data.get("broadcaster")
    if broadcaster is not None:  # it sleeps until the next campaign's time: this one's now
        broadcaster.wake.set()
    await reply(update, text.format(number=number, when=shown))
    return END


async def campaigns(update: Update, context: QorgauContext) -> None:
    v = await admin_viewer(update, context)
    if v is None:
        return
    await show_campaigns(update, v)


async def show_campaigns(update: Update, v: Viewer, note: str = "") -> None:
    broadcasts = v.services.broadcasts
    reports = [await broadcasts.report(b.id) for b in await broadcasts.recent()]
    text, markup = campaigns_screen(
        v, await broadcasts.scheduled(), [r for r in reports if r is not None]
    )
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        f"{note}\n\n{text}" if note else text, reply_markup=markup
    )


async def cancel_campaign(update: Update, context: QorgauContext) -> None:
    _, data, v = await pressed(update, context)
    if v is None:
        return
    number = callbacks.parse_cancel_campaign(data)
    done = await v.services.broadcasts.cancel_scheduled(number)
    note = (
        v._("Campaign #{number} is cancelled. Nothing was sent.")
        if done
        else v._("Campaign #{number} has already started or was cancelled.")
    )
    await show_campaigns(update, v, note.format(number=number))


async def leave(update: Update, context: QorgauContext) -> int:
    user_data(context).pop("campaign_time", None)
    return END


def register(application: QorgauApplication) -> None:
    """After the /broadcast conversation: its confirmation shows these buttons."""
    private = filters.ChatType.PRIVATE
    application.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(ask_time, pattern=callbacks.CAMPAIGN_TIME_PATTERN)],
            states={
                WHEN: [MessageHandler(private & filters.TEXT & ~filters.COMMAND, take_time)],
                NIGHT: [CallbackQueryHandler(on_night, pattern=callbacks.CAMPAIGN_NIGHT_PATTERN)],
            },
            fallbacks=[CommandHandler("cancel", leave)],
            name="campaign_time",
            allow_reentry=True,
        )
    )
    application.add_handler(
        CallbackQueryHandler(choose_audience, pattern=callbacks.AUDIENCE_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(cancel_campaign, pattern=callbacks.CANCEL_CAMPAIGN_PATTERN)
    )
    application.add_handler(CommandHandler("campaigns", campaigns, filters=private))
