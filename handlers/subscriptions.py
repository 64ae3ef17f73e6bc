"""Awareness messages are opt-in: /subscribe, /unsubscribe and the menu (SPEC "Admin")."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.app import QorgauApplication
from handlers.common import Viewer, button, keyboard, show, viewer


def subscription_text(v: Viewer, subscribed: bool) -> str:
    about = v._(
        "Awareness messages: short notes about your rights and where to find help, a few "
        "times a month. They arrive silently, without a sound."
    )
    state = v._("You are subscribed.") if subscribed else v._("You are not subscribed.")
    return f"{about}\n\n{state}"


async def show_subscription(
    update: Update, context: ContextTypes.DEFAULT_TYPE, v: Viewer, subscribed: bool
) -> None:
    toggle = (
        button(v._("Unsubscribe"), "sub:off") if subscribed else button(v._("Subscribe"), "sub:on")
    )
    rows = [[toggle], [button(v._("Main menu"), "menu")]]
    await show(update, context, v, subscription_text(v, subscribed), keyboard(v, rows))


async def subscription(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await viewer(update, context)
    query = update.callback_query
    command = update.message.text.split()[0] if update.message and update.message.text else ""
    wanted = None
    if (query and query.data == "sub:on") or command == "/subscribe":
        wanted = True
    elif (query and query.data == "sub:off") or command == "/unsubscribe":
        wanted = False
    people = v.services.people
    if wanted is True:
        chat = update.effective_chat
        assert chat is not None
        await people.subscribe(v.pseudonym, v.services.identity.encrypt(chat.id), v.locale)
    elif wanted is False:
        await people.unsubscribe(v.pseudonym)
    subscribed = await people.subscribed(v.pseudonym)
    await show_subscription(update, context, v, subscribed)


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(
        CommandHandler(["subscribe", "unsubscribe"], subscription, filters=private)
    )
    application.add_handler(CallbackQueryHandler(subscription, pattern=r"^sub(:on|:off)?$"))
