"""When a new case is urgent: the rules of bot/data/urgency.toml (docs/rapid-response.md),
loaded and checked once, applied to every case as it is opened (bot/services/cases.py)."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.services.intake_form import AFFECTED_CHOICES, AGE, CATEGORY, CHILD_AGE_BANDS
from models.enums import CaseKind

URGENCY_FILE = Path(__file__).resolve().parent.parent / "data" / "urgency.toml"

# What each list condition may name.
KNOWN = {
    "kind": frozenset(CaseKind),
    "category": frozenset(code for q in CATEGORY.values() for code, _ in q.choices),
    "age_band": frozenset(code for code, _ in AGE.choices),
    "affected": frozenset(code for code, _ in AFFECTED_CHOICES),
}
CONDITIONS = frozenset({"danger", *KNOWN})


class UrgencyRuleError(ValueError):
    pass


@dataclass(frozen=True)
class Facts:
    """What the intake flow knows of a case when it is opened."""

    kind: str
    category: str
    age_band: str
    affected: str
    danger: bool = False  # "Someone is in danger now"

    @property
    def about_a_child(self) -> bool:
        """Someone under 18 is affected (the rapid-response protocol applies)."""
        return (
            self.age_band in CHILD_AGE_BANDS
            or self.affected in ("my_child", "child")
            or self.category == "child"
        )


@dataclass(frozen=True)
class UrgencyRule:
    name: str
    description: str
    danger: bool | None = None
    kind: frozenset[str] | None = None
    category: frozenset[str] | None = None
    age_band: frozenset[str] | None = None
    affected: frozenset[str] | None = None

    def matches(self, facts: Facts) -> bool:
        if self.danger is not None and facts.danger != self.danger:
            return False
        for name in KNOWN:
            allowed: frozenset[str] | None = getattr(self, name)
            if allowed is not None and getattr(facts, name) not in allowed:
                return False
        return True


def _rule(entry: dict[str, object]) -> UrgencyRule:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UrgencyRuleError("an urgency rule has no name")
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise UrgencyRuleError(f"urgency rule {name}: no description")
    unknown = set(entry) - CONDITIONS - {"name", "description"}
    if unknown:
        raise UrgencyRuleError(f"urgency rule {name}: unknown keys {sorted(unknown)}")
    if not set(entry) & CONDITIONS:
        raise UrgencyRuleError(f"urgency rule {name}: no condition (it would match every case)")
    if "danger" in entry and not isinstance(entry["danger"], bool):
        raise UrgencyRuleError(f"urgency rule {name}: danger must be true or false")
    return UrgencyRule(name=name, description=description, **_lists(name, entry))  # type: ignore[arg-type]


def _lists(name: str, entry: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {"danger": entry["danger"]} if "danger" in entry else {}
    for key, known in KNOWN.items():
        if key not in entry:
            continue
        listed = entry[key]
        if not isinstance(listed, list) or not listed:
            raise UrgencyRuleError(f"urgency rule {name}: {key} must be a non-empty list")
        wrong = sorted(str(v) for v in listed if v not in known)
        if wrong:
            raise UrgencyRuleError(f"urgency rule {name}: unknown {key} {wrong}")
        values[key] = frozenset(str(v) for v in listed)
    return values


def load_rules(path: Path = URGENCY_FILE) -> tuple[UrgencyRule, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = tuple(_rule(entry) for entry in data.get("rule", []))
    if not rules:
        raise UrgencyRuleError(f"{path}: no [[rule]]")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise UrgencyRuleError(f"{path}: two rules have the same name")
    return rules


@cache
def rules() -> tuple[UrgencyRule, ...]:
    return load_rules()


def urgent_because(facts: Facts, among: Sequence[UrgencyRule] | None = None) -> list[str]:
    """The names of the rules that make this case urgent (empty: not urgent)."""
    return [r.name for r in (rules() if among is None else among) if r.matches(facts)]
