"""Switching the language; the choice is stored against the pseudonym."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.settings import LOCALES
from handlers import callbacks
from handlers.screens.common import (
    LANGUAGE_NAMES,
    Viewer,
    button,
    keyboard,
    main_menu,
    show,
    viewer,
    welcome_text,
)


def language_choices(v: Viewer) -> InlineKeyboardMarkup:
    return keyboard(
        v, [[button(LANGUAGE_NAMES[code], callbacks.language(code))] for code in LOCALES]
    )


async def ask_language(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    await show(update, context, v, v._("Choose a language:"), language_choices(v))


async def set_language(update: Update, context: QorgauContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    code = callbacks.parse_language(query.data)
    before = await viewer(update, context)
    if code in LOCALES:
        await before.services.people.set_locale(before.pseudonym, code)
    v = await viewer(update, context)
    await show(update, context, v, welcome_text(v), main_menu(v))


def register(application: QorgauApplication) -> None:
    application.add_handler(
        CommandHandler("language", ask_language, filters=filters.ChatType.PRIVATE)
    )
    application.add_handler(
        CallbackQueryHandler(ask_language, pattern=callbacks.exact(callbacks.LANGUAGE))
    )
    application.add_handler(
        CallbackQueryHandler(set_language, pattern=callbacks.LANGUAGE_CHOICE_PATTERN)
    )
