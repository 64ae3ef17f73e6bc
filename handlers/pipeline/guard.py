"""First look at every update: drop what no flow of ours can answer, before any handler
runs (channel posts, buttons from inline messages, person buttons pressed in a group)."""

from __future__ import annotations

import contextlib

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.app import QorgauApplication, QorgauContext
from handlers.callbacks import GROUP_PREFIXES


async def guard(update: Update, context: QorgauContext) -> None:
    if update.effective_user is None or update.effective_user.is_bot:
        raise ApplicationHandlerStop  # channel posts, anonymous admins, other bots
    query = update.callback_query
    if query is None:
        return
    message = query.message if isinstance(query.message, Message) else None
    in_private = message is not None and message.chat.type == "private"
    in_group = message is not None and not in_private
    data = query.data or ""
    if in_private or (in_group and data.startswith(GROUP_PREFIXES)):
        return
    with contextlib.suppress(TelegramError):
        await query.answer()  # stop the spinner; there is nothing else to do
    raise ApplicationHandlerStop


def register(application: QorgauApplication) -> None:
    application.add_handler(TypeHandler(Update, guard), group=-2)
