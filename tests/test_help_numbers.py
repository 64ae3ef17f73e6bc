"""The help numbers file (SPEC safety rules 1, 2, 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.help_numbers import (
    NUMBERS_FILE,
    HelpNumberError,
    load_help_numbers,
    numbers_to_show,
)


def test_every_number_has_a_source_and_a_verification_date() -> None:
    numbers = load_help_numbers()
    assert {n.number for n in numbers} >= {"112", "102", "111", "150"}
    for number in numbers:
        assert number.source.strip()
        assert number.verified_on is not None


@pytest.mark.parametrize("drop", ["source", "verified_on"])
def test_a_number_without_source_or_date_is_rejected(tmp_path: Path, drop: str) -> None:
    lines = NUMBERS_FILE.read_text().splitlines()
    broken = tmp_path / "numbers.toml"
    # Remove the field from the first entry only.
    first = next(i for i, line in enumerate(lines) if line.startswith(f"{drop} ="))
    broken.write_text("\n".join(lines[:first] + lines[first + 1 :]))
    with pytest.raises(HelpNumberError):
        load_help_numbers(broken)


def test_unverified_numbers_are_never_shown() -> None:
    numbers = load_help_numbers()
    shown = {n.number for n in numbers_to_show(numbers)}
    unverified = {n.number for n in numbers if not n.verified}
    assert shown.isdisjoint(unverified)


def test_children_see_childrens_numbers_first() -> None:
    shown = numbers_to_show(load_help_numbers(), child=True)
    flags = [n.for_children for n in shown]
    assert flags == sorted(flags, reverse=True)
    assert shown[0].number == "111"
    adults = [n.number for n in numbers_to_show(load_help_numbers())]
    assert adults[:3] == ["112", "102", "111"]
