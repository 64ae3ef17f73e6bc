"""What every handler needs: who is asking (as a pseudonym), their language, common screens."""

from __future__ import annotations

from dataclasses import dataclass

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.app import Services, services_of
from bot.i18n import pick_locale
from bot.services.help_numbers import numbers_to_show


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


def main_menu(v: Viewer) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [button(v._("Emergency numbers"), "numbers")],
            [button(v._("Language"), "lang")],
        ]
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
