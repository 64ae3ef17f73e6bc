"""Help numbers from the one data file (SPEC safety rules 1, 2 and 12)."""

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
