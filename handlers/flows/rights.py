"""Know your rights: short pages from the menu, each with its source."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.services.rights import PAGES
from handlers import callbacks
from handlers.screens.common import button, keyboard, show, viewer
from handlers.screens.directory import page_text


async def rights(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    query = update.callback_query
    key = callbacks.parse_rights_page(query.data) if query and query.data else ""
    page = next((p for p in PAGES if p.key == key), None)
    if page is None:
        rows = [[button(v._(p.title), callbacks.rights_page(p.key))] for p in PAGES]
        rows.append([button(v._("Main menu"), callbacks.MENU)])
        await show(update, context, v, v._("Know your rights. Choose a topic:"), keyboard(v, rows))
        return
    text = page_text(v.t, page)
    rows = [[button(v._("Back"), callbacks.RIGHTS), button(v._("Main menu"), callbacks.MENU)]]
    await show(update, context, v, text, keyboard(v, rows))


def register(application: QorgauApplication) -> None:
    application.add_handler(CommandHandler("rights", rights, filters=filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(rights, pattern=callbacks.RIGHTS_PATTERN))
