"""Risk and the queue: the card's "Risk level" button (the four levels; the one chosen is
written to the case's history as old→new, and the card shows it) and /queue, the open
cases by risk and waiting time, for staff in a private chat or a staff chat."""

from __future__ import annotations

import contextlib

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.services.errors import CaseClosed, NotYourCase, Refused
from handlers.access import STAFF, allowed
from handlers.callbacks import RiskButton
from handlers.screens.card_tools import (
    NOT_YOURS_RISK,
    queue_text,
    redraw_card,
    refusal,
    risk_keyboard,
)
from handlers.screens.common import reply, viewer
from models.enums import RiskLevel


@allowed(STAFF)
async def on_risk_button(update: Update, context: QorgauContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    services = context.services
    t = services.catalogues[services.settings.default_locale]
    button = RiskButton.parse(query.data)
    message = query.message if isinstance(query.message, Message) else None
    if button is None or message is None:
        await query.answer()
        return
    await services.staff.touch_name(user.id, user.first_name)
    if not button.level:  # show the levels
        case = await services.casework.by_code(button.code)
        if case is None or case.status != "open":
            await query.answer(refusal(t, CaseClosed()))
            return
        await query.answer()
        await message.edit_reply_markup(risk_keyboard(t, case))
        return
    try:
        await services.casework.set_risk(button.code, user.id, RiskLevel(button.level))
    except Refused as error:
        text = t.gettext(NOT_YOURS_RISK) if isinstance(error, NotYourCase) else refusal(t, error)
        await query.answer(text, show_alert=isinstance(error, NotYourCase))
    else:
        await query.answer()
    with contextlib.suppress(BadRequest):
        await redraw_card(services, message, button.code)


@allowed(STAFF)
async def queue(update: Update, context: QorgauContext) -> None:
    """/queue: open cases, highest risk first, then the longest waiting."""
    chat = update.effective_chat
    services = context.services
    assert chat is not None
    staff_chats = await services.staff.staff_chats(services.settings.staff_chat_id)
    if chat.type != "private" and chat.id not in staff_chats:
        return  # a group that is not the staff's: the list of cases stays out of it
    v = await viewer(update, context)
    names = {m.telegram_id: m.name for m in await services.staff.members()}
    await reply(update, queue_text(v.t, await services.triage.queue(), names))


def register(application: QorgauApplication) -> None:
    places = filters.ChatType.PRIVATE | filters.ChatType.GROUPS
    application.add_handler(CommandHandler("queue", queue, filters=places))
    application.add_handler(CallbackQueryHandler(on_risk_button, pattern=RiskButton.pattern))
