"""The directory of services from its one data file (bot/data/services.toml): who a person
can turn to near them, and whom a volunteer can refer a case to."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.i18n import N_
from bot.services.intake_form import MORE_REGIONS, REGION, REGIONS

SERVICES_FILE = Path(__file__).resolve().parent.parent / "data" / "services.toml"
NATIONAL = "national"
LOCALES = ("kk", "ru", "en")
# The intake form's places that are regions (not "other regions…", abroad or rather not say).
REGION_CODES = frozenset(
    code
    for code, _ in (*REGION.choices, *REGIONS.choices)
    if code not in (MORE_REGIONS, "abroad", "na")
)
ID_FORMAT = re.compile(r"[a-z0-9_]{1,24}")


class ServiceKind(StrEnum):
    CRISIS_CENTRE = "crisis_centre"
    SHELTER = "shelter"
    LEGAL_AID = "legal_aid"
    PSYCHOLOGICAL = "psychological"
    POLICE_GUARDIANSHIP = "police_guardianship"
    CHILDREN = "children"
    CONTACT_CENTRE_111 = "contact_centre_111"


SERVICE_KINDS = {
    ServiceKind.CRISIS_CENTRE: N_("Crisis centre"),
    ServiceKind.SHELTER: N_("Shelter"),
    ServiceKind.LEGAL_AID: N_("Free legal aid"),
    ServiceKind.PSYCHOLOGICAL: N_("Psychological help"),
    ServiceKind.POLICE_GUARDIANSHIP: N_("Police and guardianship"),
    ServiceKind.CHILDREN: N_("Children's services"),
    ServiceKind.CONTACT_CENTRE_111: N_("Contact centre 111"),
}
WHO = frozenset({"women", "children", "everyone"})


class DirectoryError(ValueError):
    pass


@dataclass(frozen=True)
class Service:
    id: str
    kind: ServiceKind
    regions: frozenset[str]
    who: frozenset[str]
    name: Mapping[str, str]
    phone: str
    hours: Mapping[str, str]
    address: Mapping[str, str]
    how: Mapping[str, str]
    source: str
    verified_on: date
    unverified: bool

    @property
    def national(self) -> bool:
        return NATIONAL in self.regions

    def serves(self, region: str | None) -> bool:
        return self.national or (region is not None and region in self.regions)

    def in_locale(self, field: Mapping[str, str], locale: str) -> str:
        return field.get(locale) or field.get("en", "")


def _localised(
    entry: Mapping[str, Any], field: str, label: str, *, required: bool
) -> dict[str, str]:
    value = entry.get(field)
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or any(not str(value.get(loc, "")).strip() for loc in LOCALES):
        raise DirectoryError(f"service {label}: {field} needs kk, ru and en")
    return {loc: str(value[loc]).strip() for loc in LOCALES}


def _codes(
    entry: Mapping[str, Any], field: str, allowed: Iterable[str], label: str
) -> frozenset[str]:
    values = entry.get(field)
    if not isinstance(values, list) or not values:
        raise DirectoryError(f"service {label}: {field} is missing")
    unknown = sorted(set(map(str, values)) - set(allowed))
    if unknown:
        raise DirectoryError(f"service {label}: unknown {field} {', '.join(unknown)}")
    return frozenset(map(str, values))


def _service(entry: Mapping[str, Any]) -> Service:
    label = str(entry.get("id", "?"))
    if not ID_FORMAT.fullmatch(label):
        raise DirectoryError(f"service {label}: id must be 1-24 of a-z 0-9 _")
    if not str(entry.get("source", "")).strip():
        raise DirectoryError(f"service {label}: no source")
    if not isinstance(entry.get("verified_on"), date):
        raise DirectoryError(f"service {label}: no verification date")
    if entry.get("kind") not in set(ServiceKind):
        raise DirectoryError(f"service {label}: unknown kind {entry.get('kind')!r}")
    return Service(
        id=label,
        kind=ServiceKind(entry["kind"]),
        regions=_codes(entry, "regions", REGION_CODES | {NATIONAL}, label),
        who=_codes(entry, "who", WHO, label),
        name=_localised(entry, "name", label, required=True),
        phone=str(entry.get("phone", "")).strip(),
        hours=_localised(entry, "hours", label, required=False),
        address=_localised(entry, "address", label, required=False),
        how=_localised(entry, "how", label, required=False),
        source=str(entry["source"]).strip(),
        verified_on=entry["verified_on"],
        unverified=bool(entry.get("unverified", False)),
    )


def load_directory(path: Path = SERVICES_FILE) -> list[Service]:
    """Every entry, checked: a missing source or date, an unknown kind or region stops the
    bot at start rather than showing a person something nobody checked."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    services = [_service(entry) for entry in data.get("service", [])]
    ids = [s.id for s in services]
    if len(ids) != len(set(ids)):
        raise DirectoryError("services: an id is used twice")
    return services


def for_people(
    services: Sequence[Service], region: str | None, *, child: bool = False
) -> list[Service]:
    """What a person sees for a region (None: rather not say): the region's own services
    first, then the national ones; never an entry marked unverified. For a child, children's
    services come first."""
    shown = [s for s in services if not s.unverified and s.serves(region)]
    shown.sort(key=lambda s: s.national)  # stable: file order otherwise
    if child:
        shown.sort(key=child_order)
    return shown


def child_order(service: Service) -> int:
    """Children's services, then 111 (it takes children's calls too), then the rest."""
    if service.kind is ServiceKind.CHILDREN or "children" in service.who:
        return 0
    return 1 if service.kind is ServiceKind.CONTACT_CENTRE_111 else 2


# The kinds of service that usually fit a case, by its kind and category (first fits first).
FITS = {
    "legal": (ServiceKind.LEGAL_AID,),
    "psych": (ServiceKind.PSYCHOLOGICAL,),
    "home": (ServiceKind.CRISIS_CENTRE, ServiceKind.SHELTER, ServiceKind.CONTACT_CENTRE_111),
    "sexual": (ServiceKind.CRISIS_CENTRE, ServiceKind.POLICE_GUARDIANSHIP),
    "child": (ServiceKind.CHILDREN, ServiceKind.POLICE_GUARDIANSHIP),
    "bullying": (ServiceKind.CONTACT_CENTRE_111, ServiceKind.CHILDREN),
    "trafficking": (ServiceKind.POLICE_GUARDIANSHIP, ServiceKind.CRISIS_CENTRE),
}


def for_case(
    services: Sequence[Service], region: str, kind: str, category: str, *, child: bool
) -> list[Service]:
    """What a volunteer may refer a case to: verified services of its region and national
    ones, those that fit the case's kind and topic first."""
    fits = FITS.get(category, ()) + FITS.get(kind, ())
    shown = for_people(services, region, child=child)
    shown.sort(key=lambda s: fits.index(s.kind) if s.kind in fits else len(fits))
    return shown


def stale(services: Sequence[Service], today: date, max_age_days: int) -> list[Service]:
    """Entries nobody has checked for longer than the allowed age (for the admins)."""
    limit = today - timedelta(days=max_age_days)
    return [s for s in services if s.verified_on < limit]


def by_id(services: Sequence[Service], service_id: str) -> Service | None:
    return next((s for s in services if s.id == service_id), None)
