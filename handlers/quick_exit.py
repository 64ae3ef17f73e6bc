""" "Exit and clear chat" (SPEC safety rule 3): delete what Telegram still allows, then silence."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ContextTypes

from bot.app import QorgauApplication, services_of

log = logging.getLogger("qorgau.exit")
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids


async def exit_and_clear(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    chat, user, query = update.effective_chat, update.effective_user, update.callback_query
    assert chat is not None and user is not None
    pseudonym = services.identity.pseudonym(user.id)
    ids = set(await services.chat_log.deletable(pseudonym))
    if query is not None:
        if query.message is not None:
            ids.add(query.message.message_id)
        await query.answer()  # no text: nothing pops up on the screen
    if context.user_data is not None:
        context.user_data.clear()
    ordered = sorted(ids)
    for chunk in (ordered[i : i + DELETE_BATCH] for i in range(0, len(ordered), DELETE_BATCH)):
        try:
            await context.bot.delete_messages(chat.id, chunk)
        except TelegramError as error:
            # Older than 48 hours or already gone: Telegram refuses; nothing else to do.
            log.info("delete_messages refused (%s) for %s ids", type(error).__name__, len(chunk))
    await services.chat_log.forget(pseudonym)


def register(application: QorgauApplication) -> None:
    application.add_handler(CallbackQueryHandler(exit_and_clear, pattern=r"^x$"))
