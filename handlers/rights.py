"""Know your rights: short pages from the menu, each with its source."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.app import QorgauApplication
from bot.services.rights import PAGES
from handlers.common import button, keyboard, show, viewer


async def rights(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await viewer(update, context)
    query = update.callback_query
    key = query.data.removeprefix("rights:") if query and query.data else ""
    page = next((p for p in PAGES if p.key == key), None)
    if page is None:
        rows = [[button(v._(p.title), f"rights:{p.key}")] for p in PAGES]
        rows.append([button(v._("Main menu"), "menu")])
        await show(update, context, v, v._("Know your rights. Choose a topic:"), keyboard(v, rows))
        return
    text = f"{v._(page.title)}\n\n{v._(page.body)}\n\n{v._('Source')}: {page.source}"
    rows = [[button(v._("Back"), "rights"), button(v._("Main menu"), "menu")]]
    await show(update, context, v, text, keyboard(v, rows))


def register(application: QorgauApplication) -> None:
    application.add_handler(CommandHandler("rights", rights, filters=filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(rights, pattern=r"^rights(:\w+)?$"))
