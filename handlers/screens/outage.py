"""What people and volunteers see when the bot cannot reach its database."""

from __future__ import annotations

from bot.app import Services
from bot.i18n import N_
from handlers.screens.common import Viewer, numbers_text

SORRY = N_("Sorry, something went wrong on our side. Please try again in a minute.")
NOT_SENT_YET = N_(
    "⚠️ Not sent yet: the bot cannot reach its database. It will go to the person as soon "
    "as the database is back; there is no need to write it again."
)


def sorry_text(services: Services, locale: str, *, database_away: bool) -> str:
    """The apology, and the emergency numbers under it (they come from a file, so they can
    be shown when nothing else works, the database included)."""
    t = services.catalogues[locale]
    viewer = Viewer(pseudonym="", locale=locale, t=t, services=services)
    return t.gettext(SORRY) + "\n\n" + numbers_text(viewer)


def not_sent_yet(services: Services) -> str:
    return services.catalogues[services.settings.default_locale].gettext(NOT_SENT_YET)
