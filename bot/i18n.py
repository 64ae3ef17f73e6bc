"""Translations per person, never global state (Babel gettext catalogues in locales/)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

from bot.settings import LOCALES, Locale

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the locale is known."""
    return message


class CatalogueMissing(RuntimeError):
    pass


class Catalogues:
    """All catalogues, loaded once at start. A missing catalogue is an error, not English."""

    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        self._translations: dict[str, Translations] = {}
        for locale in LOCALES:
            loaded = Translations.load(str(directory), [locale], DOMAIN)
            # Babel hands back a bare NullTranslations, silently, when no .mo is found.
            if not isinstance(loaded, Translations):
                raise CatalogueMissing(
                    f"no compiled catalogue for {locale!r} in {directory}: run `make setup`"
                )
            self._translations[locale] = loaded

    def __getitem__(self, locale: str) -> Translations:
        return self._translations[locale]


def pick_locale(stored: str | None, telegram_code: str | None, default: Locale) -> Locale:
    """The stored choice wins; else Telegram's language_code; else DEFAULT_LOCALE."""
    for candidate in (stored, (telegram_code or "").split("-")[0].lower()):
        if candidate in LOCALES:
            return candidate
    return default


def extract_help_numbers(
    fileobj: Any, keywords: Iterable[str], comment_tags: Iterable[str], options: dict[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extractor: the names and notes of help numbers are user-facing strings."""
    import tomllib

    data = tomllib.loads(fileobj.read().decode("utf-8"))
    for entry in data.get("number", []):
        for field in ("name", "hours"):
            if entry.get(field):
                yield 0, None, entry[field], [f"help number {entry['number']}: {field}"]


__all__ = ["N_", "Catalogues", "NullTranslations", "Translations", "pick_locale"]
