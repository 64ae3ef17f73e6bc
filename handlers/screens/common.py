"""What every handler needs: who is asking (as a pseudonym), their language, common screens."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.app import QorgauApplication, QorgauContext, Services
from bot.i18n import N_, pick_locale
from bot.services.help_numbers import HelpNumber, numbers_in_groups
from bot.services.intake_form import Question, label
from bot.services.scrub import neutral_file_name
from bot.telegram_http import again_on_hiccup
from handlers import callbacks
from models.enums import CaseKind

log = logging.getLogger("qorgau.screens")
EXIT = N_("Exit and clear chat")
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids
# A screen the person waits for is tried up to four times when Telegram hiccups (0.5, 1, 2 s
# apart; a 429 asking for over 5 s is not waited for): a lost "Sent" makes people report
# again. After a dropped connection Telegram may have shown it already; a screen twice is
# the lesser harm.
SCREEN_ATTEMPTS, SCREEN_LONGEST_WAIT = 4, 5.0
# Each language names itself, so a person who cannot read the current one still finds theirs.
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
# Kinds of message a person or a volunteer may send besides text.
MEDIA = ("photo", "document", "voice", "video", "audio", "video_note", "sticker", "animation")


# Files that carry the name their sender gave them (photos, voice notes, stickers do not).
NAMED_FILES = ("document", "video", "animation", "audio")
# What a person sends that the staff chat shows behind a spoiler (with a short note).
SPOILED = ("photo", "video", "animation")


def media_of(message: Message) -> str:
    # Anything else (a poll, a dice…) is copied as it is, under the case code.
    return next(
        (name for name in MEDIA if getattr(message, name)), "text" if message.text else "other"
    )


def file_of(message: Message) -> dict[str, Any] | None:
    """A file with a name (a document; a video, GIF or audio file sent as a file) as the outbox
    passes it on (bot/workers/documents.py): its file_id, a neutral name and its size. The
    name the sender gave it is not kept. A photo, video or GIF without a name: its file_id
    and kind, no name (what comes from a person reaches staff by it, behind a spoiler:
    copyMessage cannot add one)."""
    for kind in NAMED_FILES:
        sent = getattr(message, kind)
        if sent is not None and (kind in ("document", "audio") or sent.file_name):
            name = neutral_file_name(sent.file_name, "document" if kind == "audio" else kind)
            return {"id": sent.file_id, "name": name, "size": sent.file_size, "kind": kind}
    if message.photo:
        return {"id": message.photo[-1].file_id, "kind": "photo"}  # the largest size
    for kind in ("video", "animation"):
        sent = getattr(message, kind)
        if sent is not None:
            return {"id": sent.file_id, "kind": kind}
    return None


def choice_label(t: Translations, q: Question | None, code: str | None) -> str:
    """The translated label of a form answer (its code if the form does not know it)."""
    text = label(q, code) if q is not None else None
    return t.gettext(text) if text else (code or "")


@dataclass
class Viewer:
    """The person behind an update, as handlers may know them."""

    pseudonym: str
    locale: str
    t: Translations
    services: Services

    def _(self, message: str) -> str:
        return self.t.gettext(message)

    def n_(self, singular: str, plural: str, count: int) -> str:
        return self.t.ngettext(singular, plural, count)

    def retention(self) -> str:
        days = self.services.settings.retention_days
        return self.n_("{count} day", "{count} days", days).format(count=days)


def pseudonym_of(update: Update, context: QorgauContext) -> str:
    user = update.effective_user
    assert user is not None
    return context.services.identity.pseudonym(user.id)


async def viewer(update: Update, context: QorgauContext) -> Viewer:
    pseudonym = pseudonym_of(update, context)
    stored = await context.services.people.stored_locale(pseudonym)
    return viewer_as(update, context, pseudonym, stored)


def viewer_as(update: Update, context: QorgauContext, pseudonym: str, stored: str | None) -> Viewer:
    """The viewer, with their stored language read already (with another query)."""
    services = context.services
    user = update.effective_user
    assert user is not None
    locale = pick_locale(stored, user.language_code, services.settings.default_locale)
    return Viewer(pseudonym, locale, services.catalogues[locale], services)


def numbers_text(v: Viewer, *, child: bool = False, young: bool = False) -> str:
    """Emergency services under one heading, advice lines (111) apart: 111 sends no one.

    `child`: the flow is about a child, the children's lines come first; `young`: a child
    writes, and is spoken to as a child.
    """
    danger = (
        v._("If you are in danger now, call:")
        if young
        else v._("If you or someone else is in danger now, call:")
    )
    support = (
        v._("You can call here for advice and support:")
        if young
        else v._("You can also call for advice and support (not an emergency service):")
    )
    blocks = [
        [danger if group.emergency else support] + [number_line(v, n) for n in group.numbers]
        for group in numbers_in_groups(v.services.help_numbers, child=child)
    ]
    return "\n\n".join("\n".join(block) for block in blocks)


def number_line(v: Viewer, n: HelpNumber) -> str:
    if not n.hours:
        return v._("☎ {number} — {name}").format(number=n.number, name=v._(n.name))
    return v._("☎ {number} — {name} ({hours})").format(
        number=n.number, name=v._(n.name), hours=v._(n.hours)
    )


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def keyboard(
    v: Viewer, rows: Sequence[Sequence[InlineKeyboardButton]] = ()
) -> InlineKeyboardMarkup:
    """Every screen of the private chat ends with "Exit and clear chat" (docs/safety.md, rule 3)."""
    return InlineKeyboardMarkup([*map(list, rows), [button(v._(EXIT), callbacks.EXIT)]])


def in_columns(
    buttons: Sequence[InlineKeyboardButton], columns: int
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + columns]) for i in range(0, len(buttons), columns)]


def main_menu(v: Viewer) -> InlineKeyboardMarkup:
    return keyboard(
        v,
        [
            [button(v._("Report an incident"), callbacks.start_flow(CaseKind.REPORT))],
            [
                button(v._("Legal help"), callbacks.start_flow(CaseKind.LEGAL)),
                button(v._("Psychological help"), callbacks.start_flow(CaseKind.PSYCH)),
            ],
            [button(v._("Help near me"), callbacks.NearButton.OPEN)],
            [
                button(v._("Emergency numbers"), callbacks.NUMBERS),
                button(v._("Language"), callbacks.LANGUAGE),
            ],
            [
                button(v._("Know your rights"), callbacks.RIGHTS),
                button(v._("My requests"), callbacks.MY_CASES),
            ],
            [
                button(v._("Awareness messages"), callbacks.SUBSCRIPTION),
                button(v._("About and privacy"), callbacks.ABOUT),
            ],
            [button(v._("Forget me"), callbacks.FORGET)],
        ],
    )


def welcome_text(v: Viewer) -> str:
    return "\n\n".join(
        [
            numbers_text(v),
            v._(
                "This is Qorgau, a help line. You can tell us what happened without giving "
                "your name. Lawyers and psychologists answer here, in this chat."
            ),
            v._("Choose what you need:"),
        ]
    )


async def show(
    update: Update,
    context: QorgauContext,
    v: Viewer,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    new: bool = False,
) -> None:
    """Show a screen: edit the pressed message in place, or send a new one below."""
    query = update.callback_query
    if query is not None:
        # Only stops the button's spinner: failing it must not cost the person the screen.
        with contextlib.suppress(TelegramError):
            await query.answer()
        if not new and query.message is not None:
            try:
                await again_on_hiccup(
                    lambda: query.edit_message_text(text, reply_markup=markup),
                    attempts=SCREEN_ATTEMPTS,
                    longest_wait=SCREEN_LONGEST_WAIT,
                )
                return
            except BadRequest as error:
                if "not modified" in str(error):
                    return
    chat = update.effective_chat
    assert chat is not None
    await send_screen(context, v, chat.id, text, markup)


async def send_screen(
    context: QorgauContext,
    v: Viewer,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Send a new message and remember its id, so "Exit and clear chat" can delete it."""
    sent = await again_on_hiccup(
        lambda: context.bot.send_message(chat_id, text, reply_markup=markup),
        attempts=SCREEN_ATTEMPTS,
        longest_wait=SCREEN_LONGEST_WAIT,
    )
    if chat_id > 0:  # a private chat: its id is the person's
        # With the update's own transaction where there is one (a crash before it commits
        # replays the update, and the screen is sent and remembered again).
        remembered = v.services.chat_log.remembered(v.pseudonym, [sent.message_id])
        if not cast(QorgauApplication, context.application).write_with_update_if_any(remembered):
            await v.services.chat_log.remember(v.pseudonym, [sent.message_id])


async def reply(update: Update, text: str, *, html: bool = False) -> None:
    """Answer a command where it was written (staff and admin commands)."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML if html else None, disable_web_page_preview=True
    )


async def clear_chat(update: Update, context: QorgauContext) -> None:
    """ "Exit and clear chat": delete what Telegram still allows, then stay silent."""
    services = context.services
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    known = await _going_quiet(update, context)
    pseudonym = services.identity.pseudonym(user.id)
    ids = known | set(await services.chat_log.deletable(pseudonym))
    if context.user_data is not None:
        context.user_data.clear()
    await _delete(context, chat.id, ids)
    await services.chat_log.forget(pseudonym)
    # Nothing more goes to this chat until the person writes again (the staff are told).
    await services.outbox.hold(pseudonym)


def is_exit_press(update: Update) -> bool:
    query = update.callback_query
    return query is not None and query.data == callbacks.EXIT


async def clear_without_database(update: Update, context: QorgauContext) -> None:
    """The exit failed (the database is away): no apology goes into the chat. What the bot
    sent this last minute is deleted now; the rest, and the hold, when the press comes again
    (an update that failed for the database is not confirmed)."""
    assert update.effective_chat is not None
    await _delete(context, update.effective_chat.id, await _going_quiet(update, context))


async def _going_quiet(update: Update, context: QorgauContext) -> set[int]:
    """The part of the exit that needs no database: nothing on its way to the chat goes out
    any more (held in the database by `hold`), the press is answered, and the ids the bot
    knows without the database are returned (what it sent this last minute, whose ids may
    not be kept yet, and the pressed message)."""
    chat, query = update.effective_chat, update.callback_query
    assert chat is not None
    context.limiter.went_quiet(chat.id)
    ids = set(context.limiter.sent_lately(chat.id))
    if query is not None:
        if query.message is not None:
            ids.add(query.message.message_id)
        # No text: nothing pops up. A press that waited too long (a restart, a busy bot)
        # cannot be answered any more: the chat is cleared and held all the same.
        with contextlib.suppress(TelegramError):
            await query.answer()
    return ids


async def _delete(context: QorgauContext, chat_id: int, ids: set[int]) -> None:
    ordered = sorted(ids)
    for chunk in (ordered[i : i + DELETE_BATCH] for i in range(0, len(ordered), DELETE_BATCH)):
        try:
            await context.bot.delete_messages(chat_id, chunk)
        except TelegramError as error:
            # Older than 48 hours or already gone: Telegram refuses; nothing else to do.
            log.info("delete_messages refused (%s) for %s ids", type(error).__name__, len(chunk))
