"""/start: the emergency numbers first (docs/safety.md, rule 1), then the main menu."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.services.intake_form import IntakeDraft
from handlers import callbacks
from handlers.screens.common import main_menu, numbers_text, show, viewer, welcome_text
from handlers.screens.follow_ups import UNSENT


async def start(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    if context.user_data is not None:
        context.user_data.pop(UNSENT, None)  # starting over: what was not sent is not kept
    await show(update, context, v, welcome_text(v), main_menu(v))


async def show_numbers(update: Update, context: QorgauContext) -> None:
    """The "Emergency numbers" button: for a child (the flow in progress says so, or their
    latest request did), the children's lines first, in the child's wording."""
    v = await viewer(update, context)
    saved = (context.user_data or {}).get("draft")
    if saved:
        draft = IntakeDraft.from_dict(saved)
        child, young = draft.children_first, draft.is_child
    else:
        young = await v.services.referrals.wrote_as_child(v.pseudonym)
        child = young
    await show(update, context, v, numbers_text(v, child=child, young=young), main_menu(v))


def register(application: QorgauApplication) -> None:
    application.add_handler(CommandHandler("start", start, filters=filters.ChatType.PRIVATE))
    application.add_handler(
        CallbackQueryHandler(show_numbers, pattern=callbacks.exact(callbacks.NUMBERS))
    )
