"""Free text loses contact details before it is stored (docs/safety.md, rule 6)."""

from __future__ import annotations

import pytest

from bot.services.scrub import scrub
from tests.scrub_corpus import score, worst_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me +7 701 234 56 78 please", "call me [phone] please"),
        ("мой номер 87012345678", "мой номер [phone]"),
        ("8 (701) 234-56-78", "[phone]"),
        ("+7(727)2345678", "[phone]"),
        ("tel 8-701-234-56-78.", "tel [phone]."),
        ("домашний 2-34-56-78", "домашний [phone]"),
        ("uk +44 20 7946 0958", "uk [phone]"),
        ("ИИН 900101300123 вот", "ИИН [IIN] вот"),
        ("write to aigerim.n@mail.kz now", "write to [e-mail] now"),
        ("my insta @aigerim_99", "my insta [username]"),
        ("see https://example.com/x?y=1 and www.site.kz", "see [link] and [link]"),
        ("t.me/someone", "[link]"),
        ("vk.com/id123", "[link]"),
        ("school website school12.edu.kz", "school website [link]"),
    ],
)
def test_contact_details_are_removed(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Call 112 or 102, or 111.",
        "It happened 3 times in 2024, on 12.05 at 14:30.",
        "Мне 15 лет, брату 9.",
        "He took 20000 tenge, then 1 500 000.",
        "It started on 12-05-2024.",
    ],
)
def test_ordinary_numbers_stay(text: str) -> None:
    assert scrub(text) == text


def test_recall_and_false_positives_on_the_corpus() -> None:
    """Contacts written as people in Kazakhstan write them (tests/data/scrub_corpus.toml)."""
    result = score(scrub)
    assert result.secrets >= 300 and result.lookalikes >= 100
    assert result.recall >= 0.99, "\n".join(result.missed)
    assert result.false_positive_rate <= 0.02, "\n".join(result.wrongly)


def test_the_slowest_message_takes_well_under_50_ms() -> None:
    """Scrubbing runs on the event loop: a message built to be slow must not stall others."""
    worst, name = worst_time(scrub, repeat=5)
    assert worst < 0.05, f"{name}: {worst * 1000:.1f} ms"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7011234567", "[phone]"),
        ("701-123-45-67", "[phone]"),
        ("8 (701) 555 12 34", "[phone]"),
        ("8 701 123 45 67 8 702 765 43 21", "[phone] [phone]"),
        ("+7\u200b701\u2013123\u201345\u201367!", "[phone]!"),
        ("\uff18\uff17\uff10\uff11\uff11\uff12\uff13\uff14\uff15\uff16\uff17", "[phone]"),
        ("ИИН 950101 300123", "ИИН [IIN]"),
        ("ЖСН: 950101-300123.", "ЖСН: [IIN]."),
        ("tg://resolve?domain=aigerim_k", "[link]"),
        ("t.me/aigerim_k.", "[link]."),
        ("пиши: aigerim.uz, askar.kg/me", "пиши: [link], [link]"),
        ("инста: aigerim_99", "инста: [username]"),
        ("карта 4400 4301 2345 6789", "карта [card]"),
        ("8 7 0 1 2 3 4 5 6 7 8", "[phone]"),
        ("ЖСН 95 01 01 3 00123", "ЖСН [IIN]"),
        ("пиши на aigerim95 собака mail.ru", "пиши на [e-mail]"),
    ],
)
def test_how_people_really_write(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_text_outside_contacts_stays_as_written() -> None:
    """Normalising is for finding contacts only: the rest keeps its dashes and spaces."""
    text = "Это было 10\u201315 минут\u00a0назад, звони 8\u2009701\u2009123\u200945\u200967"
    assert scrub(text) == "Это было 10\u201315 минут\u00a0назад, звони [phone]"
