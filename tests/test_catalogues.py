"""Catalogues: complete, consistent, and loud when missing (Babel is silent by default)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, CatalogueMissing, Catalogues
from bot.settings import LOCALES

PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}|%\([a-z_]+\)[sd]|%[sd]")


def catalogue(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def template_ids() -> set[str]:
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def strings_in_code() -> set[str]:
    """What `pybabel extract` finds now, with the project's own babel.cfg."""
    root = LOCALES_DIR.parent
    with (root / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    found = extract_from_dir(str(root), method_map, options_map, keywords={**DEFAULT_KEYWORDS})
    return {message if isinstance(message, str) else message[0] for _, _, message, *_ in found}


def test_template_is_up_to_date_with_the_code() -> None:
    missing = strings_in_code() - template_ids()
    assert missing == set(), f"run `make messages` and translate: {sorted(missing)}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_entry_is_translated_and_not_fuzzy(locale: str) -> None:
    problems = []
    for message in catalogue(locale):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    assert problems == []


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_holds_every_string_of_the_template(locale: str) -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(locale) if m.id}
    missing = template_ids() - ids
    assert missing == set(), f"run `make messages`: {locale} lacks {sorted(missing)}"


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_survive_translation(locale: str) -> None:
    for message in catalogue(locale):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (locale, message.id, string)


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_forms_header_matches_babel(locale: str) -> None:
    assert catalogue(locale).plural_forms == get_plural(locale).plural_forms


def test_kazakh_has_two_plural_forms_and_russian_three() -> None:
    assert catalogue("kk").num_plurals == 2
    assert catalogue("ru").num_plurals == 3


def test_missing_compiled_catalogue_is_an_error_not_silence(tmp_path: Path) -> None:
    with pytest.raises(CatalogueMissing):
        Catalogues(tmp_path)


def test_compiled_catalogues_load_and_translate() -> None:
    catalogues = Catalogues()
    assert catalogues["ru"].gettext("Language") == "Язык"
    assert catalogues["kk"].gettext("Language") == "Тіл"
    assert catalogues["en"].gettext("Language") == "Language"
