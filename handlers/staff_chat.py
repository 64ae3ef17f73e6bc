"""The staff chat: card buttons (Take, Release, Reply, Close with outcome) and the relay of
staff messages to the person. Only registered staff can act; anyone else is told no."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import ForceReply, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.app import QorgauApplication, Services, services_of
from bot.services.casework import Result
from handlers.common import media_of
from handlers.staff_cards import card_buttons, card_text, outcome_buttons

log = logging.getLogger("qorgau.staff")


async def refresh_card(services: Services, message: Message, code: str) -> None:
    """Redraw the card with the case as it is now."""
    t = services.catalogues[services.settings.default_locale]
    case = await services.casework.by_code(code)
    if case is None:
        return
    taker = await services.staff.get(case.taken_by) if case.taken_by else None
    try:
        await message.edit_text(
            card_text(t, case, taker=taker),
            parse_mode=ParseMode.HTML,
            reply_markup=card_buttons(t, case),
        )
    except BadRequest as error:
        if "not modified" not in error.message:
            raise


async def on_card_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    services = services_of(context)
    t = services.catalogues[services.settings.default_locale]
    _, code, action, *rest = query.data.split(":")
    member = await services.staff.get(user.id)
    if member is None:
        await query.answer(t.gettext("Only helpline staff can do this."), show_alert=True)
        return
    await services.staff.touch_name(user.id, user.first_name)
    message = query.message if isinstance(query.message, Message) else None
    casework = services.casework

    if action == "take":
        outcome = await casework.take(code, user.id)
    elif action == "release":
        outcome = await casework.release(code, user.id)
    elif action == "close" and message is not None:
        case = await casework.by_code(code)
        if case is None or case.status != "open":
            await query.answer(t.gettext("This case is closed."))
            return
        await query.answer()
        await message.edit_reply_markup(outcome_buttons(t, case))
        return
    elif action == "o" and rest:
        outcome = await casework.close(code, user.id, rest[0])
    elif action == "reply" and message is not None:
        await query.answer()
        case = await casework.by_code(code)
        if case is None:
            return
        prompt = await message.reply_text(
            t.gettext("Write your answer to {code} as a reply to this message.").format(
                code=case.code
            ),
            reply_markup=ForceReply(selective=True),
        )
        await casework.link(prompt.chat_id, prompt.message_id, case.id)
        return
    else:  # "card": back from the outcome list
        await query.answer()
        if message is not None:
            await refresh_card(services, message, code)
        return

    if outcome.result is Result.TAKEN:
        await query.answer(t.gettext("Someone else has taken this case."), show_alert=True)
    elif outcome.result is Result.CLOSED:
        await query.answer(t.gettext("This case is closed."))
    else:
        await query.answer()
    if message is not None and outcome.case is not None:
        await refresh_card(services, message, code)


async def relay_to_person(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff reply to a card or a relayed message, or a message in a case's topic."""
    message, user = update.message, update.effective_user
    if message is None or user is None or user.is_bot:
        return
    services = services_of(context)
    chats = await services.staff.staff_chats(services.settings.staff_chat_id)
    if message.chat_id not in chats:
        return
    answered = message.reply_to_message
    reply_to = answered.message_id if answered else None
    # A message of the bot's own names its case (a card, a relayed follow-up).
    author = answered.from_user if answered else None
    quoted = None
    if answered is not None and author is not None and author.id == context.bot.id:
        quoted = answered.text or answered.caption
    thread = message.message_thread_id if message.is_topic_message else None
    case = await services.casework.case_for_message(message.chat_id, reply_to, thread, quoted)
    if case is None:
        return
    t = services.catalogues[services.settings.default_locale]
    if await services.staff.get(user.id) is None:
        await message.reply_text(t.gettext("Only helpline staff can do this."))
        return
    await services.staff.touch_name(user.id, user.first_name)
    outcome = await services.casework.staff_reply(
        case.id,
        user.id,
        message.chat_id,
        message.message_id,
        media_of(message),
        message.text or message.caption,
    )
    notes = {
        Result.CLOSED: "This case is closed.",
        Result.NO_ADDRESS: "This person cannot be answered: they asked not to be answered or "
        "erased the link. The message was not sent.",
    }
    if outcome.result in notes:
        await message.reply_text(t.gettext(notes[outcome.result]))


async def escalate(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    period = timedelta(minutes=services.settings.escalate_after_minutes)
    codes = await services.casework.escalate_due(period)
    if codes:
        log.info("escalated %s cases", len(codes))


def register(application: QorgauApplication) -> None:
    application.add_handler(CallbackQueryHandler(on_card_button, pattern=r"^c:[A-Z0-9]{8}:"))
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & filters.UpdateType.MESSAGE & ~filters.COMMAND,
            relay_to_person,
        )
    )
    assert application.job_queue is not None
    # The schedule lives in the database (created_at, escalated_at): a restart loses nothing.
    application.job_queue.run_repeating(escalate, interval=60, first=10, name="escalate")
