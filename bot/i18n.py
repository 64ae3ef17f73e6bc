"""Translations per person, never global state (Babel gettext catalogues in locales/)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

import locales
from bot.settings import LOCALES, Locale

# The top-level `locales` folder is a package of data files: found in the repository and in
# an installed copy alike (pip install . ships the .po files with the code).
LOCALES_DIR = Path(locales.__file__).resolve().parent
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the locale is known."""
    return message


class CatalogueMissing(RuntimeError):
    pass


def load_catalogue(directory: Path, locale: str) -> Translations:
    """The .po file read at start (about 30 ms for the three): no compiled .mo to build,
    ship or keep in step. Fuzzy entries are left out, as `pybabel compile` does."""
    path = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        raise CatalogueMissing(f"no catalogue for {locale!r}: {path} is missing")
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Catalogues:
    """All catalogues, loaded once at start. A missing catalogue is an error, not English."""

    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        self._translations: dict[str, Translations] = {
            locale: load_catalogue(directory, locale) for locale in LOCALES
        }

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
