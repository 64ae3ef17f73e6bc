"""Free text loses contact details before it is stored (SPEC safety rule 6)."""

from __future__ import annotations

import pytest

from bot.services.scrub import scrub


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
