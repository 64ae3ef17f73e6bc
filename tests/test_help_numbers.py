"""The help numbers file (docs/safety.md, rules 1, 2, 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.services.help_numbers import (
    NUMBERS_FILE,
    HelpNumberError,
    load_help_numbers,
    numbers_in_groups,
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
    assert adults == ["112", "102", "103", "111"]


def test_111_is_a_contact_centre_not_an_emergency_service() -> None:
    numbers = {n.number: n for n in load_help_numbers()}
    assert not numbers["111"].emergency
    assert "contact centre" in numbers["111"].name
    assert numbers["112"].emergency and numbers["102"].emergency


def test_103_ambulance_is_listed_with_its_source() -> None:
    ambulance = next(n for n in load_help_numbers() if n.number == "103")
    assert ambulance.verified and ambulance.emergency
    assert ambulance.name == "Ambulance"
    assert "egov.kz" in ambulance.source


def test_every_source_names_the_site_and_the_page_it_was_checked_on() -> None:
    site = re.compile(r"\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(kz|org|com|net)\b|Union of Crisis Centres")
    for number in load_help_numbers():
        assert site.search(number.source), number.number
        assert "page" in number.source, number.number


def test_emergency_services_and_advice_lines_are_shown_apart() -> None:
    numbers = load_help_numbers()
    adult = numbers_in_groups(numbers)
    assert [[n.number for n in g.numbers] for g in adult] == [["112", "102", "103"], ["111"]]
    assert [g.emergency for g in adult] == [True, False]
    child = numbers_in_groups(numbers, child=True)
    assert [g.emergency for g in child] == [False, True], "a child sees 111 first (rule 12)"
