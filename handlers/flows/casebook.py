"""A case's history and a volunteer's cases (issue 16): /case CODE, /reopen CODE (and Reopen
on a closed card), /mine, the cases still held at /duty off, and «No note» when releasing.

Staff only, in a private chat with the bot or in a staff chat (anywhere else the commands
say nothing: a case's history is not for other groups)."""

from __future__ import annotations

import contextlib
import re
from zoneinfo import ZoneInfo

from babel.support import Translations
from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.app import QorgauApplication, QorgauContext, Services
from bot.i18n import N_
from bot.services.cases import CODE_IN_TEXT
from bot.services.errors import CaseErased, CaseOpen, NotYourCase, Refused
from handlers.access import STAFF, allowed, may
from handlers.callbacks import CaseAction, CaseButton
from handlers.screens.casework import (
    CASE_ERASED,
    CASE_OPEN,
    handover_skipped,
    held_text,
    history_screen,
    owner_refusal,
    still_held_text,
)
from handlers.screens.common import reply, viewer
from handlers.screens.staff_cards import card_buttons, card_text
from models import Case

NO_SUCH_CASE = N_("No case with this code.")


async def words_for(update: Update, context: QorgauContext) -> Translations:
    """Staff words: in a private chat in the volunteer's language, in a staff chat in the
    chat's (DEFAULT_LOCALE, as the cards)."""
    chat = update.effective_chat
    if chat is not None and chat.type == "private":
        return (await viewer(update, context)).t
    return context.services.catalogues[context.services.settings.default_locale]


def zone_of(services: Services) -> ZoneInfo:
    # Times are shown in the line's zone, the one its broadcasts are planned in.
    return ZoneInfo(services.settings.broadcast_timezone)


async def where_allowed(update: Update, context: QorgauContext) -> bool:
    """A private chat, or a staff chat (a case's history is not shown in other groups)."""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type == "private":
        return True
    services = context.services
    return chat.id in await services.staff.staff_chats(services.settings.staff_chat_id)


def code_arg(context: QorgauContext) -> str | None:
    found = CODE_IN_TEXT.fullmatch((context.args or [""])[0].upper())
    if found is None and context.args:  # typed without the dash
        raw = context.args[0].upper()
        found = CODE_IN_TEXT.fullmatch(f"{raw[:4]}-{raw[4:]}") if len(raw) == 8 else None
    return found.group(0) if found else None


async def show_case(update: Update, context: QorgauContext, code: str, page: int = 0) -> None:
    services = context.services
    t = await words_for(update, context)
    history = await services.history.of(code)
    if history is None:
        await reply(update, t.gettext(NO_SUCH_CASE))
        return
    notes = await services.notes.of_case(history.case.id)
    text, markup = history_screen(t, history, notes, zone_of(services), page)
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        with contextlib.suppress(BadRequest):  # "not modified": pressed twice
            await query.message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        return
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


@allowed(STAFF)
async def case_command(update: Update, context: QorgauContext) -> None:
    """/case CODE: the case's status, owner, urgency, counts and every event, in pages."""
    if not await where_allowed(update, context):
        return
    code = code_arg(context)
    if code is None:
        t = await words_for(update, context)
        await reply(update, t.gettext("Usage: /case CODE"))
        return
    await show_case(update, context, code)


async def refresh_card(context: QorgauContext, case: Case) -> None:
    """Redraw the case's card where it is (the case changed from elsewhere)."""
    services = context.services
    if case.staff_chat_id is None or case.card_message_id is None:
        return
    t = services.catalogues[services.settings.default_locale]
    taker = await services.staff.get(case.taken_by) if case.taken_by else None
    with contextlib.suppress(BadRequest):  # deleted, or unchanged
        await context.bot.edit_message_text(
            card_text(t, case, taker=taker),
            case.staff_chat_id,
            case.card_message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=card_buttons(t, case),
        )
    if case.status == "open" and case.topic_id is not None:
        with contextlib.suppress(BadRequest):  # its topic opens again too (open already)
            await context.bot.reopen_forum_topic(case.staff_chat_id, case.topic_id)


async def reopen_refusal(services: Services, t: Translations, error: Refused) -> str:
    if isinstance(error, NotYourCase) and error.owner is not None:
        owner = await services.staff.get(error.owner)
        return owner_refusal(t, owner.name if owner else t.gettext("former staff"))
    if isinstance(error, CaseOpen):
        return t.gettext(CASE_OPEN)
    if isinstance(error, CaseErased):
        return t.gettext(CASE_ERASED)
    return t.gettext(NO_SUCH_CASE)


async def reopen(context: QorgauContext, t: Translations, code: str, user_id: int) -> str:
    """Reopen the case; what to tell the volunteer."""
    services = context.services
    try:
        case = await services.casework.reopen(code, user_id)
    except Refused as error:
        return await reopen_refusal(services, t, error)
    await refresh_card(context, case)
    return t.gettext(
        "{code} is open again, and taken by you. The person is not told: they hear from us "
        "when you answer."
    ).format(code=case.code)


@allowed(STAFF)
async def reopen_command(update: Update, context: QorgauContext) -> None:
    if not await where_allowed(update, context):
        return
    assert update.effective_user is not None
    code = code_arg(context)
    t = await words_for(update, context)
    if code is None:
        await reply(update, t.gettext("Usage: /reopen CODE"))
        return
    await reply(update, await reopen(context, t, code, update.effective_user.id))


async def skip_handover(context: QorgauContext, message: Message, code: str, user_id: int) -> str:
    """«No note»: the releaser leaves none; the request for it says so."""
    services = context.services
    t = services.catalogues[services.settings.default_locale]  # in the staff chat
    case = await services.casework.by_code(code)
    if case is None or not await services.notes.skip_handover(case.id, user_id):
        return t.gettext("Only whoever released the case can answer this.")
    with contextlib.suppress(BadRequest):
        await message.edit_text(handover_skipped(t, case.code))
    return ""


@allowed(STAFF)
async def on_case_button(update: Update, context: QorgauContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    button = CaseButton.parse(query.data or "")
    message = query.message if isinstance(query.message, Message) else None
    if button is None or message is None:
        await query.answer()
        return
    if button.action is CaseAction.PAGE:
        await query.answer()
        await show_case(update, context, button.code, int(button.arg))
        return
    if button.action is CaseAction.REOPEN:
        said = await reopen(context, await words_for(update, context), button.code, user.id)
    else:
        said = await skip_handover(context, message, button.code, user.id)
    await query.answer(said or None, show_alert=bool(said) and button.action is CaseAction.REOPEN)


@allowed(STAFF)
async def mine(update: Update, context: QorgauContext) -> None:
    """/mine: my open cases, the longest waiting first."""
    if not await where_allowed(update, context):
        return
    assert update.effective_user is not None
    services = context.services
    t = await words_for(update, context)
    held = await services.history.held_by(update.effective_user.id)
    await reply(update, held_text(t, held, zone_of(services)), html=True)


async def still_held(update: Update, context: QorgauContext) -> None:
    """After /duty off (flows/staff_admin.py answered it): the cases they still hold."""
    user = update.effective_user
    if user is None or not await may(context, user.id, STAFF):
        return
    services = context.services
    held = await services.history.held_by(user.id)
    if held:
        await reply(update, still_held_text(await words_for(update, context), held))


def register(application: QorgauApplication) -> None:
    application.add_handler(CommandHandler("case", case_command))
    application.add_handler(CommandHandler("reopen", reopen_command))
    application.add_handler(CommandHandler("mine", mine))
    application.add_handler(CallbackQueryHandler(on_case_button, pattern=CaseButton.pattern))
    # After flows/staff_admin.py's /duty (group 0) has put them off duty.
    duty_off = re.compile(r"^/duty(@\w+)?\s+off\s*$", re.IGNORECASE)
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.Regex(duty_off), still_held), group=1
    )
