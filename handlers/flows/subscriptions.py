"""Awareness messages are opt-in: /subscribe, /unsubscribe and the menu (docs/overview.md)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from handlers import callbacks
from handlers.screens.campaigns import REGION_NAMES, region_choices, region_question
from handlers.screens.common import Viewer, button, keyboard, show, viewer


def subscription_text(v: Viewer, subscribed: bool) -> str:
    about = v._(
        "Awareness messages: short notes about your rights and where to find help, a few "
        "times a month. They arrive silently, without a sound."
    )
    state = v._("You are subscribed.") if subscribed else v._("You are not subscribed.")
    return f"{about}\n\n{state}"


async def show_subscription(
    update: Update, context: QorgauContext, v: Viewer, subscribed: bool
) -> None:
    label = v._("Unsubscribe") if subscribed else v._("Subscribe")
    toggle = button(label, callbacks.subscription(not subscribed))
    rows = [[toggle], [button(v._("Main menu"), callbacks.MENU)]]
    await show(update, context, v, subscription_text(v, subscribed), keyboard(v, rows))


async def subscription(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    query = update.callback_query
    command = update.message.text.split()[0] if update.message and update.message.text else ""
    commands = {"/subscribe": True, "/unsubscribe": False}
    wanted = callbacks.parse_subscription(query.data or "") if query else commands.get(command)
    people = v.services.people
    if wanted is True:
        chat = update.effective_chat
        assert chat is not None
        await people.subscribe(v.pseudonym, v.services.identity.encrypt(chat.id), v.locale)
        text, markup = region_question(v)  # opt-in: the only way a region is known here
        await show(update, context, v, subscription_text(v, True) + "\n\n" + text, markup)
        return
    elif wanted is False:
        await people.unsubscribe(v.pseudonym)
    subscribed = await people.subscribed(v.pseudonym)
    await show_subscription(update, context, v, subscribed)


async def region(update: Update, context: QorgauContext) -> None:
    """After subscribing: the regions to choose from, or the choice (or "no, thanks")."""
    v = await viewer(update, context)
    query = update.callback_query
    assert query is not None and query.data is not None
    if query.data == callbacks.SUBSCRIPTION_REGIONS:
        await show(update, context, v, v._("Choose your region:"), region_choices(v))
        return
    code = query.data.removeprefix(callbacks.SUBSCRIPTION_REGION_PREFIX)
    await v.services.people.share_region(v.pseudonym, code if code in REGION_NAMES else None)
    await show_subscription(update, context, v, await v.services.people.subscribed(v.pseudonym))


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(
        CommandHandler(["subscribe", "unsubscribe"], subscription, filters=private)
    )
    application.add_handler(
        CallbackQueryHandler(subscription, pattern=callbacks.SUBSCRIPTION_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(region, pattern=callbacks.SUBSCRIPTION_REGION_PATTERN)
    )
