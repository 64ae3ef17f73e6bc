"""A shared location or contact is not passed on: it says who and where the person is
(docs/safety.md, rule 6: no identity in cases). Nothing of it is stored; the person is told why."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, filters

from bot.app import QorgauApplication, QorgauContext
from handlers.screens.common import keyboard, show, viewer


async def not_passed_on(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    text = v._(
        "We do not pass on locations or contacts: they show who you are and where you are. "
        "Nothing of it was kept. If the place matters, describe it in words (a town or a "
        "district is enough)."
    )
    await show(update, context, v, text, keyboard(v))
    raise ApplicationHandlerStop  # no flow sees it: nothing is stored


def register(application: QorgauApplication) -> None:
    identifying = filters.LOCATION | filters.CONTACT | filters.VENUE
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & identifying, not_passed_on
        )
    )
