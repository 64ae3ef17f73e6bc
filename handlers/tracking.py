"""Remember the ids of the person's own messages, for "Exit and clear chat"."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.app import QorgauApplication, services_of


async def remember_incoming(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.message, update.effective_user
    if message is None or user is None or message.chat.type != "private":
        return
    services = services_of(context)
    await services.chat_log.remember(services.identity.pseudonym(user.id), [message.message_id])


def register(application: QorgauApplication) -> None:
    application.add_handler(TypeHandler(Update, remember_incoming), group=-1)
