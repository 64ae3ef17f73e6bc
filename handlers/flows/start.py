"""/start: the emergency numbers first (docs/safety.md, rule 1), then the main menu."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from handlers import callbacks
from handlers.screens.common import main_menu, numbers_text, show, viewer, welcome_text
from handlers.screens.follow_ups import UNSENT


async def start(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    if context.user_data is not None:
        context.user_data.pop(UNSENT, None)  # starting over: what was not sent is not kept
    await show(update, context, v, welcome_text(v), main_menu(v))


async def show_numbers(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    await show(update, context, v, numbers_text(v), main_menu(v))


def register(application: QorgauApplication) -> None:
    application.add_handler(CommandHandler("start", start, filters=filters.ChatType.PRIVATE))
    application.add_handler(
        CallbackQueryHandler(show_numbers, pattern=callbacks.exact(callbacks.NUMBERS))
    )
