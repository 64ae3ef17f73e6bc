"""The catalogues follow docs/glossary.md: the words it says to avoid appear nowhere."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR

GLOSSARY = LOCALES_DIR.parent / "docs" / "glossary.md"
# The "avoid" column of the glossary, as patterns (calques, a second word for one thing).
AVOID = {
    "ru": [
        r"заявк",
        r"кейс",
        r"горячая линия",
        r"знать свои права",
        r"связь с вами",
        r"доброволец",
        r"зафиксир",
        r"инцидент",
        r"конфиденциальност",
        r"полезные рассылки",
        r"забудьте меня",
    ],
    "kk": [
        r"сенім желісі",
        r"жедел желі",
        r"жедел нөмір",
        r"кейс",
        r"өтінім",
        r"волонтер",
        r"ұмытыңыз",
        r"біліңіз",
        r"ағартушылық",
        r"\bіс\b",
        r"\bістің\b",
        r"\bістер",
    ],
}


def translations(locale: str) -> list[tuple[str, str]]:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    pairs = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(str(message.id), str(s)) for s in strings]
    return pairs


def test_the_glossary_is_in_the_repository_with_every_term() -> None:
    text = GLOSSARY.read_text(encoding="utf-8")
    for term in ("request", "helpline", "volunteer", "consent", "report", "urgent"):
        assert f"| {term}" in text, term
    for term in ("reference code", "quick exit", "Единая дежурно-диспетчерская служба"):
        assert term in text, term


@pytest.mark.parametrize("locale", sorted(AVOID))
def test_no_catalogue_uses_a_word_the_glossary_avoids(locale: str) -> None:
    found = [
        (pattern, string[:80])
        for _, string in translations(locale)
        for pattern in AVOID[locale]
        if re.search(pattern, string, re.IGNORECASE)
    ]
    assert not found, found


@pytest.mark.parametrize(
    ("locale", "helpline", "word"),
    [("ru", "линия помощи", "обращен"), ("kk", "көмек желісі", "өтініш")],
)
def test_the_line_and_a_request_have_one_name(locale: str, helpline: str, word: str) -> None:
    strings = [s.lower() for _, s in translations(locale)]
    assert any(helpline in s for s in strings)
    assert sum(word in s for s in strings) >= 10
