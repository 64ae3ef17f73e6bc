"""What every handler needs: who is asking (as a pseudonym), their language, common screens."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.app import Services, services_of
from bot.i18n import N_, pick_locale
from bot.services.help_numbers import numbers_to_show
from bot.services.intake_form import Question, label
from bot.telegram_http import again_on_hiccup

EXIT = N_("Exit and clear chat")
# A screen the person waits for is tried up to four times when Telegram hiccups (0.5, 1, 2 s
# apart; a 429 asking for over 5 s is not waited for): a lost "Sent" makes people report
# again. After a dropped connection Telegram may have shown it already; a screen twice is
# the lesser harm.
SCREEN_ATTEMPTS, SCREEN_LONGEST_WAIT = 4, 5.0
# Kinds of message a person or a volunteer may send besides text.
MEDIA = ("photo", "document", "voice", "video", "audio", "video_note", "sticker", "animation")


def media_of(message: Message) -> str:
    return next((name for name in MEDIA if getattr(message, name)), "text")


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


async def viewer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Viewer:
    services = services_of(context)
    user = update.effective_user
    assert user is not None
    pseudonym = services.identity.pseudonym(user.id)
    stored = await services.people.stored_locale(pseudonym)
    locale = pick_locale(stored, user.language_code, services.settings.default_locale)
    return Viewer(pseudonym, locale, services.catalogues[locale], services)


def numbers_text(v: Viewer, *, child: bool = False) -> str:
    lines = [v._("If you or someone else is in danger now, call:")]
    for number in numbers_to_show(v.services.help_numbers, child=child):
        hours = f" ({v._(number.hours)})" if number.hours else ""
        lines.append(f"☎ {number.number} — {v._(number.name)}{hours}")
    return "\n".join(lines)


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def keyboard(
    v: Viewer, rows: Sequence[Sequence[InlineKeyboardButton]] = ()
) -> InlineKeyboardMarkup:
    """Every screen of the private chat ends with "Exit and clear chat" (SPEC rule 3)."""
    return InlineKeyboardMarkup([*map(list, rows), [button(v._(EXIT), "x")]])


def in_columns(
    buttons: Sequence[InlineKeyboardButton], columns: int
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + columns]) for i in range(0, len(buttons), columns)]


def main_menu(v: Viewer) -> InlineKeyboardMarkup:
    return keyboard(
        v,
        [
            [button(v._("Report an incident"), "m:report")],
            [button(v._("Legal help"), "m:legal"), button(v._("Psychological help"), "m:psych")],
            [button(v._("Emergency numbers"), "numbers"), button(v._("Language"), "lang")],
            [button(v._("Know your rights"), "rights"), button(v._("My requests"), "mycases")],
            [button(v._("Awareness messages"), "sub"), button(v._("About and privacy"), "about")],
            [button(v._("Forget me"), "forget")],
        ],
    )


def welcome_text(v: Viewer) -> str:
    return "\n\n".join(
        [
            numbers_text(v),
            v._(
                "This is Qorgau, a help line. You can tell us what happened without giving "
                "your name. Lawyers and psychologists will answer you here."
            ),
            v._("Choose what you need:"),
        ]
    )


async def show(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
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
    context: ContextTypes.DEFAULT_TYPE,
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
        await v.services.chat_log.remember(v.pseudonym, [sent.message_id])
