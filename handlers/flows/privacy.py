"""About and privacy, and /forget (docs/safety.md, rules 3 and 8)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from handlers import callbacks
from handlers.screens.common import button, keyboard, main_menu, show, viewer


async def about(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    text = v._(
        "Qorgau is a help line. Volunteers answer here: lawyers, psychologists and "
        "coordinators.\n\n"
        "Volunteers do not see your name, username or phone number in Telegram, only what "
        "you write or attach. We keep your answers and the text, without contacts, for "
        "{retention} after your request is closed.\n\n"
        '"Exit and clear chat" deletes the messages of this chat from the last 48 hours. '
        "Telegram does not let us delete older messages: please delete them yourself.\n\n"
        "/forget erases the link between you and your requests.\n\n"
        "We are not an emergency service and cannot send anyone to you. If someone is in "
        "danger now, call 112."
    ).format(retention=v.retention())
    await show(update, context, v, text, main_menu(v))


async def ask_forget(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    text = v._(
        "This erases the link between you and your requests, and your language choice. "
        "The requests stay for statistics, with no link to you. We will not be able to "
        "answer your open requests any more.\n\nErase?"
    )
    rows = [
        [button(v._("Yes, erase"), callbacks.forget(True))],
        [button(v._("No"), callbacks.forget(False))],
    ]
    await show(update, context, v, text, keyboard(v, rows))


async def forget(update: Update, context: QorgauContext) -> None:
    query = update.callback_query
    assert query is not None
    v = await viewer(update, context)
    if query.data != callbacks.forget(True):
        await show(update, context, v, v._("Choose what you need:"), main_menu(v))
        return
    await v.services.people.forget(v.pseudonym)
    if context.user_data is not None:
        context.user_data.clear()
    if update.effective_chat is not None and update.effective_user is not None:
        await context.app.end_flows(update.effective_chat.id, update.effective_user.id)
    v = await viewer(update, context)  # the stored language is gone too
    await show(
        update, context, v, v._("Done. We no longer know which requests were yours."), main_menu(v)
    )


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("about", about, filters=private))
    application.add_handler(CallbackQueryHandler(about, pattern=callbacks.exact(callbacks.ABOUT)))
    application.add_handler(CommandHandler("forget", ask_forget, filters=private))
    application.add_handler(
        CallbackQueryHandler(ask_forget, pattern=callbacks.exact(callbacks.FORGET))
    )
    application.add_handler(CallbackQueryHandler(forget, pattern=callbacks.FORGET_ANSWER_PATTERN))
