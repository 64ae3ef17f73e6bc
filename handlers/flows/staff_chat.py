"""The staff chat: card buttons (Take, Release, Reply, Close with outcome), the relay of
staff answers to the person and the notes staff keep about a case. Only registered staff can
act; anyone else is told no.

An answer is a reply to the case's card, to one of the person's relayed messages or to an
earlier answer; anything else in the case's topic, or a reply starting with /note, is a note:
kept in the case's history, never sent (issue 16)."""

from __future__ import annotations

import logging
import re
from zoneinfo import ZoneInfo

from babel.support import Translations
from telegram import Bot, CallbackQuery, ForceReply, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.app import QorgauApplication, QorgauContext, Services
from bot.i18n import N_
from bot.services.casework import StaffAnswer, Target
from bot.services.errors import (
    CaseClosed,
    CaseTaken,
    NoReplyAddress,
    NoSuchCase,
    NotYourCase,
    Refused,
    TooManyOpen,
)
from handlers.access import STAFF, allowed, refuse
from handlers.callbacks import CardAction, CardButton
from handlers.screens.card_tools import limit_text
from handlers.screens.casework import (
    NOTE_EMPTY,
    NOTE_USAGE,
    handover_prompt,
    handover_text,
    owner_refusal,
)
from handlers.screens.common import file_of, media_of
from handlers.screens.staff_cards import card_buttons, card_text, outcome_buttons
from models.enums import AuditAction, NoteKind

log = logging.getLogger("qorgau.staff")

# What a volunteer is told when the case refuses the action.
REFUSED = {
    CaseTaken: N_("Someone else has taken this case."),
    CaseClosed: N_("This case is closed."),
    NoReplyAddress: N_(
        "This person cannot be answered: they asked not to be answered or "
        "erased the link. The message was not sent."
    ),
    NoSuchCase: N_("This case is closed."),
    NotYourCase: N_(
        "Another volunteer has this case. Only they, a coordinator or an admin can answer, "
        "release or close it."
    ),
}


def refusal_text(t: Translations, error: Refused) -> str:
    if isinstance(error, TooManyOpen):
        return limit_text(t, error.limit)
    return t.gettext(REFUSED.get(type(error), REFUSED[CaseClosed]))


async def refusal_for(
    services: Services, t: Translations, error: Refused, *, replying: bool = False
) -> str:
    """Why not, naming who has the case when it is someone else's."""
    owner = await services.staff.get(error.owner) if error.owner else None
    if isinstance(error, NotYourCase) and owner is not None:
        return owner_refusal(t, owner.name, replying=replying)
    return refusal_text(t, error)


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


async def show_outcomes(services: Services, message: Message, code: str) -> None:
    """Close: first the list of outcomes (closing needs one)."""
    case = await services.casework.by_code(code)
    if case is None or case.status != "open":
        raise CaseClosed(case)
    t = services.catalogues[services.settings.default_locale]
    await message.edit_reply_markup(outcome_buttons(t, case))


async def ask_for_answer(services: Services, message: Message, code: str, user_id: int) -> None:
    """Reply: a prompt the volunteer answers (a reply to it reaches the person); refused
    (raised) if the case is someone else's."""
    case = await services.casework.may_work(code, user_id, AuditAction.REPLY)
    t = services.catalogues[services.settings.default_locale]
    prompt = await message.reply_text(
        t.gettext("Write your answer to {code} as a reply to this message.").format(code=case.code),
        reply_markup=ForceReply(selective=True),
    )
    await services.casework.link(prompt.chat_id, prompt.message_id, case.id)


async def show_handover(
    bot: Bot,
    services: Services,
    case_id: int,
    taker_id: int,
    *,
    only_if_taken_by: int | None = None,
) -> None:
    """The handover note left on the case's last release, to whoever has it now (posted
    under the card, calling them). `only_if_taken_by`: only if that is who has it."""
    case = await services.casework.by_id(case_id)
    note = await services.notes.handover_for(case_id)
    if case is None or note is None or case.staff_chat_id is None:
        return
    if only_if_taken_by is not None and case.taken_by != only_if_taken_by:
        return
    t = services.catalogues[services.settings.default_locale]
    author, taker = await services.staff.get(note.staff_id), await services.staff.get(taker_id)
    name = author.name if author else t.gettext("former staff")
    zone = ZoneInfo(services.settings.broadcast_timezone)
    reply = None
    if case.card_message_id is not None:
        reply = ReplyParameters(case.card_message_id, allow_sending_without_reply=True)
    await bot.send_message(
        case.staff_chat_id,
        handover_text(t, case.code, name, note, zone, taker),
        parse_mode=ParseMode.HTML,
        message_thread_id=case.topic_id,
        reply_parameters=reply,
    )


async def ask_for_handover(services: Services, message: Message, code: str, user_id: int) -> None:
    """Released: the releaser is asked for a short handover note (a reply to this prompt),
    or to press «No note»."""
    case = await services.casework.by_code(code)
    if case is None:
        return
    t = services.catalogues[services.settings.default_locale]
    text, markup = handover_prompt(t, case.code)
    prompt = await message.reply_text(text, reply_markup=markup)
    await services.notes.ask_handover(case.id, user_id, prompt.chat_id, prompt.message_id)


async def act(services: Services, button: CardButton, message: Message, user_id: int) -> bool:
    """Carry out a card button; whether the card is to be redrawn."""
    casework, code = services.casework, button.code
    if button.action is CardAction.TAKE:
        case = await casework.take(code, user_id)
        await show_handover(message.get_bot(), services, case.id, user_id)
    elif button.action is CardAction.RELEASE:
        await casework.release(code, user_id)
        await ask_for_handover(services, message, code, user_id)
    elif button.action is CardAction.OUTCOME:
        await casework.close(code, user_id, button.outcome)
    elif button.action is CardAction.CLOSE:
        await show_outcomes(services, message, code)
        return False
    elif button.action is CardAction.REPLY:
        await ask_for_answer(services, message, code, user_id)
        return False
    return True  # CARD: back from the outcomes


@allowed(STAFF)
async def on_card_button(update: Update, context: QorgauContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    services = context.services
    button = CardButton.parse(query.data)
    message = query.message if isinstance(query.message, Message) else None
    if button is None or message is None:
        await query.answer()
        return
    await services.staff.touch_name(user.id, user.first_name)
    try:
        redraw = await act(services, button, message, user.id)
    except Refused as error:
        await answer_refusal(services, query, error)
        redraw = error.case is not None
    else:
        await query.answer()
    if redraw:
        await refresh_card(services, message, button.code)


async def answer_refusal(services: Services, query: CallbackQuery, error: Refused) -> None:
    t = services.catalogues[services.settings.default_locale]
    alert = isinstance(error, CaseTaken | NotYourCase | TooManyOpen)
    await query.answer(await refusal_for(services, t, error), show_alert=alert)


def where_of(context: QorgauContext, message: Message) -> tuple[int | None, int | None, str | None]:
    """What a staff-chat message replies to, the forum topic it is in, and the text of the
    bot's own message it replies to (a card or a relayed follow-up names its case)."""
    answered = message.reply_to_message
    reply_to = answered.message_id if answered else None
    author = answered.from_user if answered else None
    quoted = None
    if answered is not None and author is not None and author.id == context.bot.id:
        quoted = answered.text or answered.caption
    thread = message.message_thread_id if message.is_topic_message else None
    return reply_to, thread, quoted


async def target_of(context: QorgauContext, message: Message) -> Target | None:
    """What a staff-chat message is about: a reply to a card, a relayed message or an
    earlier answer (or to a copy whose id the bot never learnt: by the code in its text) is
    an answer; a reply to a note, or anything else in the case's topic, is a note."""
    return await context.services.casework.target_of(message.chat_id, *where_of(context, message))


# A note: "/note …" (also "/note@bot …", and as a caption).
NOTE_COMMAND = re.compile(r"/note(?:@\w+)?(?=\s|$)")


def note_words(message: Message) -> str | None:
    """The words of a /note (None: the message is no /note)."""
    words = message.text or message.caption or ""
    found = NOTE_COMMAND.match(words)
    return words[found.end() :].strip() if found else None


async def in_staff_chat(context: QorgauContext, message: Message) -> bool:
    services = context.services
    return message.chat_id in await services.staff.staff_chats(services.settings.staff_chat_id)


async def relay_to_person(update: Update, context: QorgauContext) -> None:
    """A staff message about a case: an answer goes to the person, anything else is a note.
    Which chat, case and author, and the answer queued: one transaction."""
    message, user = update.message, update.effective_user
    if message is None or user is None or user.is_bot:
        return
    services = context.services
    words = note_words(message)
    answer = None
    if words is None:
        text = message.text or message.caption
        answer = StaffAnswer(message.message_id, media_of(message), text, file_of(message))
    try:
        found = await services.casework.staff_message(
            message.chat_id,
            services.settings.staff_chat_id,
            *where_of(context, message),
            user.id,
            user.first_name,
            answer,
            context.app.update_end(update),
        )
    except Refused as error:
        t = services.catalogues[services.settings.default_locale]
        await message.reply_text(await refusal_for(services, t, error, replying=True))
        return
    if found is None:
        return  # not a staff chat, or talk among staff, not about a case
    if found.wrote_end:
        context.app.update_ended(update)
    if found.role not in STAFF:
        await refuse(update, context, STAFF, "relay_to_person")
    elif found.answered is None:
        await keep_note(context, message, user.id, found.target, words)
    elif found.was_free:  # taken by answering: a handover note left for the next owner is theirs
        case_id = found.answered.id
        await show_handover(context.bot, services, case_id, user.id, only_if_taken_by=user.id)


async def keep_note(
    context: QorgauContext, message: Message, user_id: int, target: Target, words: str | None
) -> None:
    """Keep the message in the case's history as a note (or as the handover note its
    author was asked for); the outbox marks it "kept as a note". `words`: of a /note."""
    services = context.services
    if words == "" and media_of(message) == "text":
        t = services.catalogues[services.settings.default_locale]
        await message.reply_text(t.gettext(NOTE_EMPTY))
        return
    thread = message.message_thread_id if message.is_topic_message else None
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    written = await services.notes.keep(
        target.case.id,
        user_id,
        (message.chat_id, message.message_id, thread),
        media_of(message),
        words if words is not None else message.text or message.caption,
        reply_to,
    )
    if written is None or written.note.kind != NoteKind.HANDOVER:
        return
    if written.owner is not None and written.owner != user_id:
        # Someone took the case before the note was written: it is theirs to read.
        await show_handover(context.bot, services, target.case.id, written.owner)


@allowed(STAFF)
async def note_command(update: Update, context: QorgauContext) -> None:
    """/note as a reply to a case's message or in a case's topic: a note, never sent."""
    message, user = update.message, update.effective_user
    if message is None or user is None or not await in_staff_chat(context, message):
        return
    target = await target_of(context, message)
    if target is None:
        t = context.services.catalogues[context.services.settings.default_locale]
        await message.reply_text(t.gettext(NOTE_USAGE))
        return
    await context.services.staff.touch_name(user.id, user.first_name)
    await keep_note(context, message, user.id, target, note_words(message) or "")


def register(application: QorgauApplication) -> None:
    application.add_handler(CallbackQueryHandler(on_card_button, pattern=CardButton.pattern))
    application.add_handler(CommandHandler("note", note_command, filters=filters.ChatType.GROUPS))
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & filters.UpdateType.MESSAGE & ~filters.COMMAND,
            relay_to_person,
        )
    )
