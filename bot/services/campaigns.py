"""Campaign times: what an admin types ("25.11 18:30") read in BROADCAST_TIMEZONE, and the
quiet hours (QUIET_HOURS) when nothing goes out unless the admin confirms it.

Written by hand: the formats are the few an admin in Kazakhstan types; dateutil's parser
guesses far more (and differently for 05.11 vs 11.05).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

WHEN = re.compile(
    r"\s*(?:(?P<day>\d{1,2})\.(?P<month>\d{1,2})(?:\.(?P<year>\d{4}))?\s+)?"
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})\s*"
)


def parse_when(text: str, now: datetime, zone: str) -> datetime | None:
    """ "18:30" (today, or tomorrow if that has passed), "25.11 18:30" (this year, or next if
    that has passed) or "25.11.2026 18:30", in `zone`; as UTC. None if it is no time."""
    match = WHEN.fullmatch(text)
    if match is None:
        return None
    local_now = now.astimezone(ZoneInfo(zone))
    parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    try:
        when = local_now.replace(
            year=parts.get("year", local_now.year),
            month=parts.get("month", local_now.month),
            day=parts.get("day", local_now.day),
            hour=parts["hour"],
            minute=parts["minute"],
            second=0,
            microsecond=0,
        )
    except ValueError:  # 31.02, 25:00
        return None
    if when <= local_now and "year" not in parts:
        when = when + timedelta(days=1) if "day" not in parts else when.replace(year=when.year + 1)
    return when.astimezone(UTC)


def local(when: datetime, zone: str) -> str:
    return when.astimezone(ZoneInfo(zone)).strftime("%d.%m.%Y %H:%M")


def in_quiet_hours(when: datetime, zone: str, quiet: tuple[int, int] | None) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    hour = when.astimezone(ZoneInfo(zone)).hour
    return start <= hour < end if start < end else hour >= start or hour < end
