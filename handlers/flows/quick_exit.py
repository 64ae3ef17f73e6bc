""" "Exit and clear chat" (safety rule 3): delete what Telegram still allows, then silence."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler

from bot.app import QorgauApplication
from handlers import callbacks
from handlers.screens.common import clear_chat


def register(application: QorgauApplication) -> None:
    application.add_handler(
        CallbackQueryHandler(clear_chat, pattern=callbacks.exact(callbacks.EXIT))
    )
