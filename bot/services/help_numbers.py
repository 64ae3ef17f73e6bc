"""Help numbers from the one data file (docs/safety.md, rules 1, 2 and 12)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

NUMBERS_FILE = Path(__file__).resolve().parent.parent / "data" / "help_numbers.toml"


@dataclass(frozen=True)
class HelpNumber:
    number: str
    name: str
    hours: str
    emergency: bool
    for_children: bool
    verified: bool
    source: str
    verified_on: date


class HelpNumberError(ValueError):
    pass


def load_help_numbers(path: Path = NUMBERS_FILE) -> list[HelpNumber]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    numbers = []
    for entry in data.get("number", []):
        label = entry.get("number", "?")
        if not str(entry.get("source", "")).strip():
            raise HelpNumberError(f"help number {label}: no source")
        if not isinstance(entry.get("verified_on"), date):
            raise HelpNumberError(f"help number {label}: no verification date")
        if entry.get("status") not in ("verified", "unverified"):
            raise HelpNumberError(f"help number {label}: status must be verified or unverified")
        numbers.append(
            HelpNumber(
                number=str(entry["number"]),
                name=entry["name"],
                hours=entry.get("hours", ""),
                emergency=bool(entry.get("emergency", False)),
                for_children=bool(entry.get("for_children", False)),
                verified=entry["status"] == "verified",
                source=entry["source"],
                verified_on=entry["verified_on"],
            )
        )
    return numbers


def numbers_to_show(numbers: list[HelpNumber], *, child: bool = False) -> list[HelpNumber]:
    """Verified numbers only; for a child, the children's numbers come first."""
    shown = [n for n in numbers if n.verified]
    if child:
        shown.sort(key=lambda n: not n.for_children)  # stable: keeps file order otherwise
    return shown


@dataclass(frozen=True)
class NumberGroup:
    emergency: bool
    numbers: list[HelpNumber]


def numbers_in_groups(numbers: list[HelpNumber], *, child: bool = False) -> list[NumberGroup]:
    """Emergency services apart from advice lines (111 is a contact centre, it sends no one).

    Adults see the emergency services first; a child sees the children's lines first (rule 12).
    """
    shown = numbers_to_show(numbers, child=child)
    groups = [
        NumberGroup(True, [n for n in shown if n.emergency]),
        NumberGroup(False, [n for n in shown if not n.emergency]),
    ]
    if child and any(n.for_children for n in groups[1].numbers):
        groups.reverse()
    return [g for g in groups if g.numbers]
