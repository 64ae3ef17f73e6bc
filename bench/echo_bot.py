"""A bare python-telegram-bot bot that answers every message and button at once: the
ceiling the throughput benchmark compares Qorgau with. Same update processor; PTB's own
polling; with ECHO_AIOHTTP=1 the same HTTP transport as Qorgau."""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.app import ALLOWED_UPDATES
from bot.processing import PerChatUpdateProcessor
from bot.telegram_http import AiohttpRequest


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("echo")


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()
    await update.callback_query.edit_message_text("pressed")


def main() -> None:
    builder = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_URL"])
        .concurrent_updates(PerChatUpdateProcessor(64))
    )
    if os.environ.get("ECHO_AIOHTTP"):  # the same HTTP transport as Qorgau
        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(1))
    app = builder.build()
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.add_handler(CallbackQueryHandler(press))
    app.run_polling(allowed_updates=ALLOWED_UPDATES)


if __name__ == "__main__":
    main()
