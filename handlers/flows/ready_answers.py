"""Ready answers: the library (/answers for staff; /answer_add, /answer_edit, /answer_remove
for coordinators and admins, in a private chat or a staff chat) and the card's "Ready
answer" button: pick one, see how it begins in the person's language, send it."""

from __future__ import annotations

import contextlib

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext, Services
from bot.message_parts import TEXT_LIMIT, split_text
from bot.services.errors import NoSuchAnswer, NotYourCase, Refused, TooManyOpen
from bot.services.ready_answers import parse_texts
from handlers.access import SENIORS, STAFF, allowed
from handlers.callbacks import ReadyAction, ReadyButton
from handlers.screens.card_tools import (
    ANSWER_FORMAT,
    answers_keyboard,
    confirm_keyboard,
    library_entry,
    library_refusal,
    preview_text,
    redraw_card,
    refusal,
)
from handlers.screens.common import LANGUAGE_NAMES, reply, viewer


async def in_staff_place(update: Update, context: QorgauContext) -> bool:
    """A private chat, or one of the staff chats (not any group a coordinator is in)."""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type == "private":
        return True
    services = context.services
    return chat.id in await services.staff.staff_chats(services.settings.staff_chat_id)


# -- the library ----------------------------------------------------------------------------------


@allowed(STAFF)
async def list_answers(update: Update, context: QorgauContext) -> None:
    """/answers: every ready answer, how each begins; /answers KEY: one of them, whole."""
    if not await in_staff_place(update, context):
        return
    v = await viewer(update, context)
    library = v.services.ready_answers
    if context.args:
        try:
            answer = await library.get(context.args[0])
        except NoSuchAnswer as error:
            await reply(update, library_refusal(v.t, error, context.args[0]))
            return
        for part in split_text(library_entry(v.t, answer, whole=True), TEXT_LIMIT):
            await reply(update, part)
        return
    answers = await library.all()
    head = v.n_(
        "{count} ready answer. Under a case's card, press «Ready answer» to send one in the "
        "person's language. /answers KEY shows one whole.",
        "{count} ready answers. Under a case's card, press «Ready answer» to send one in the "
        "person's language. /answers KEY shows one whole.",
        len(answers),
    ).format(count=len(answers))
    text = "\n\n".join([head, *(library_entry(v.t, a, whole=False) for a in answers)])
    for part in split_text(text, TEXT_LIMIT):
        await reply(update, part)


def key_and_body(message: Message) -> tuple[str, str]:
    """`/answer_add KEY` and what follows the key (the texts)."""
    parts = (message.text or "").split(maxsplit=2)
    return (parts[1] if len(parts) > 1 else ""), (parts[2] if len(parts) > 2 else "")


async def change_library(update: Update, context: QorgauContext, command: str) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    if not await in_staff_place(update, context):
        return
    v = await viewer(update, context)
    library = v.services.ready_answers
    key, body = key_and_body(message)
    if not key:
        await reply(update, v._(ANSWER_FORMAT))
        return
    try:
        if command == "add":
            answer = await library.add(key, parse_texts(body), user.id)
            text = v._("Ready answer “{key}” added.").format(key=answer.key)
        elif command == "edit":
            answer = await library.edit(key, parse_texts(body), user.id)
            text = v._("Ready answer “{key}” changed.").format(key=answer.key)
        else:
            await library.remove(key, user.id)
            text = v._("Ready answer “{key}” removed.").format(key=key.lower())
    except Refused as error:
        text = library_refusal(v.t, error, key.lower())
    await reply(update, text)


@allowed(SENIORS)
async def add_answer(update: Update, context: QorgauContext) -> None:
    await change_library(update, context, "add")


@allowed(SENIORS)
async def edit_answer(update: Update, context: QorgauContext) -> None:
    await change_library(update, context, "edit")


@allowed(SENIORS)
async def remove_answer(update: Update, context: QorgauContext) -> None:
    await change_library(update, context, "remove")


# -- under a card ---------------------------------------------------------------------------------


async def show_list(services: Services, message: Message, code: str) -> str | None:
    t = services.catalogues[services.settings.default_locale]
    answers = await services.ready_answers.all()
    if not answers:
        return t.gettext(
            "The library of ready answers is empty. Coordinators add them: /answer_add."
        )
    locale = services.settings.default_locale
    await message.edit_reply_markup(answers_keyboard(t, code, answers, locale))
    return None


async def preview(services: Services, message: Message, code: str, key: str) -> str:
    """How the answer begins in the person's language (an alert), and the Send button."""
    t = services.catalogues[services.settings.default_locale]
    answer = await services.ready_answers.get(key)
    case = await services.casework.by_code(code)
    locale = case.locale if case is not None else services.settings.default_locale
    await message.edit_reply_markup(confirm_keyboard(t, code, key))
    return preview_text(answer, locale)


async def send(services: Services, message: Message, code: str, key: str, user_id: int) -> str:
    t = services.catalogues[services.settings.default_locale]
    sent = await services.ready_answers.send(code, user_id, key)
    await redraw_card(services, message, code)
    language = LANGUAGE_NAMES.get(sent.locale, sent.locale)
    return t.gettext("Sent to the person, in {language}.").format(language=language)


async def act(
    services: Services, button: ReadyButton, message: Message, user_id: int
) -> str | None:
    """Carry out a button; the alert to show the volunteer, if any."""
    if button.action is ReadyAction.LIST:
        return await show_list(services, message, button.code)
    if button.action is ReadyAction.PREVIEW:
        return await preview(services, message, button.code, button.key)
    return await send(services, message, button.code, button.key, user_id)


@allowed(STAFF)
async def on_ready_button(update: Update, context: QorgauContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    services = context.services
    button = ReadyButton.parse(query.data)
    message = query.message if isinstance(query.message, Message) else None
    if button is None or message is None:
        await query.answer()
        return
    await services.staff.touch_name(user.id, user.first_name)
    try:
        note = await act(services, button, message, user.id)
    except Refused as error:
        await answer_refusal(services, query, message, button.code, error)
        return
    await query.answer(note, show_alert=button.action is ReadyAction.PREVIEW)


async def answer_refusal(
    services: Services, query: CallbackQuery, message: Message, code: str, error: Refused
) -> None:
    t = services.catalogues[services.settings.default_locale]
    alert = isinstance(error, NotYourCase | TooManyOpen | NoSuchAnswer)
    await query.answer(refusal(t, error), show_alert=alert)
    with contextlib.suppress(BadRequest):
        await redraw_card(services, message, code)


def register(application: QorgauApplication) -> None:
    places = filters.ChatType.PRIVATE | filters.ChatType.GROUPS
    application.add_handler(CommandHandler("answers", list_answers, filters=places))
    application.add_handler(CommandHandler("answer_add", add_answer, filters=places))
    application.add_handler(CommandHandler("answer_edit", edit_answer, filters=places))
    application.add_handler(CommandHandler("answer_remove", remove_answer, filters=places))
    application.add_handler(CallbackQueryHandler(on_ready_button, pattern=ReadyButton.pattern))
