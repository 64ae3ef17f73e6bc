"""The directory of services (bot/data/services.toml): every entry sourced, dated, with a
known kind and region; unverified entries never reach people; old ones are flagged."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.services.directory import (
    NATIONAL,
    REGION_CODES,
    DirectoryError,
    ServiceKind,
    for_case,
    for_people,
    load_directory,
    stale,
)
from bot.services.help_numbers import load_help_numbers

ENTRY = """
[[service]]
id = "test_centre"
kind = "crisis_centre"
regions = ["karaganda"]
who = ["women"]
phone = "+7 700 000 0000"
source = "a page"
verified_on = 2026-01-01
name.kk = "Орталық"
name.ru = "Центр"
name.en = "Centre"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_directory_is_valid_and_sourced() -> None:
    services = load_directory()
    assert services, "the directory is empty"
    for service in services:
        assert service.source.strip() and isinstance(service.verified_on, date)
        assert set(service.name) == {"kk", "ru", "en"}
        assert service.regions <= REGION_CODES | {NATIONAL}
    kinds = {s.kind for s in services if not s.unverified}
    assert ServiceKind.CONTACT_CENTRE_111 in kinds and ServiceKind.LEGAL_AID in kinds


def test_a_number_in_both_files_has_the_same_status() -> None:
    """150 is hidden in the directory while the numbers file says it is unverified."""
    numbers = {n.number: n.verified for n in load_help_numbers()}
    for service in load_directory():
        if service.phone in numbers:
            assert numbers[service.phone] == (not service.unverified), service.id


def test_a_good_entry_loads(tmp_path: Path) -> None:
    [service] = load_directory(write(tmp_path, ENTRY))
    assert service.regions == {"karaganda"} and service.kind is ServiceKind.CRISIS_CENTRE


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (('source = "a page"\n', ""), "no source"),
        (("verified_on = 2026-01-01\n", ""), "no verification date"),
        (("verified_on = 2026-01-01", 'verified_on = "soon"'), "no verification date"),
        (('"karaganda"', '"atlantis"'), "unknown regions atlantis"),
        (('regions = ["karaganda"]\n', ""), "regions is missing"),
        (('"crisis_centre"', '"spa"'), "unknown kind"),
        (('who = ["women"]', 'who = ["men"]'), "unknown who men"),
        (('name.en = "Centre"\n', ""), "name needs kk, ru and en"),
    ],
)
def test_a_bad_entry_is_rejected(tmp_path: Path, change: tuple[str, str], complaint: str) -> None:
    old, new = change
    assert old in ENTRY
    with pytest.raises(DirectoryError, match=complaint):
        load_directory(write(tmp_path, ENTRY.replace(old, new)))


def test_the_same_id_twice_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="twice"):
        load_directory(write(tmp_path, ENTRY + ENTRY))


def test_people_see_their_region_then_national_never_unverified(tmp_path: Path) -> None:
    extra = ENTRY.replace("test_centre", "other_place").replace('"karaganda"', '"pavlodar"')
    hidden = ENTRY.replace("test_centre", "hidden").replace(
        'source = "a page"', 'source = "a page"\nunverified = true'
    )
    services = load_directory(write(tmp_path, ENTRY + extra + hidden)) + load_directory()
    shown = [s.id for s in for_people(services, "karaganda")]
    assert shown[0] == "test_centre"
    assert "other_place" not in shown and "hidden" not in shown
    assert "children_150" not in shown  # unverified in the shipped file
    assert "contact_111" in shown
    assert "test_centre" not in [s.id for s in for_people(services, None)]  # rather not say


def test_for_a_legal_case_legal_aid_comes_first() -> None:
    shown = for_case(load_directory(), "almaty", "legal", "work", child=False)
    assert shown[0].kind is ServiceKind.LEGAL_AID


def test_old_entries_are_stale(tmp_path: Path) -> None:
    services = load_directory(write(tmp_path, ENTRY))
    assert stale(services, date(2026, 12, 31), 365) == []
    assert [s.id for s in stale(services, date(2027, 1, 2), 365)] == ["test_centre"]
