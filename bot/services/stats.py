"""Numbers for admins and coordinators, and the anonymised CSV export (SPEC "Admin")."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.staff import audit
from models import Case

EXPORT_COLUMNS = [
    "code",
    "created_at",
    "kind",
    "category",
    "subcategory",
    "affected",
    "age_band",
    "region",
    "urgent",
    "locale",
    "may_answer",
    "status",
    "closed_at",
    "closed_by",
    "outcome",
    "rating",
    "minutes_to_take",
    "minutes_to_first_answer",
    "escalations",
]


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() / 60, 1) if end else None


@dataclass
class Report:
    days: int
    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_category: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_region: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    ratings: Counter[int] = field(default_factory=Counter)
    median_take: float | None = None
    median_answer: float | None = None

    @property
    def average_rating(self) -> float | None:
        count = sum(self.ratings.values())
        return sum(r * n for r, n in self.ratings.items()) / count if count else None


class Stats:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _cases(self, days: int, now: datetime | None = None) -> list[Case]:
        since = (now or datetime.now(UTC)) - timedelta(days=days)
        async with self._sessions() as session:
            query = select(Case).where(Case.created_at >= since).order_by(Case.created_at)
            return list((await session.scalars(query)).all())

    async def report(self, days: int, now: datetime | None = None) -> Report:
        cases = await self._cases(days, now)
        report = Report(days=days, total=len(cases))
        take, answer = [], []
        for case in cases:
            report.by_kind[case.kind] += 1
            report.by_category[(case.kind, case.category)] += 1
            report.by_region[case.region] += 1
            report.by_status[case.status] += 1
            if case.rating:
                report.ratings[case.rating] += 1
            if (minutes := _minutes(case.created_at, case.taken_at)) is not None:
                take.append(minutes)
            if (minutes := _minutes(case.created_at, case.first_answer_at)) is not None:
                answer.append(minutes)
        report.median_take = median(take) if take else None
        report.median_answer = median(answer) if answer else None
        return report

    async def export_csv(self, days: int, staff_id: int, *, with_text: bool = False) -> str:
        """Anonymised: no pseudonym, no reply address; free text only when asked and allowed."""
        cases = await self._cases(days)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS + (["description"] if with_text else []))
        for c in cases:
            row = [
                c.code,
                c.created_at.isoformat(timespec="minutes"),
                c.kind,
                c.category,
                c.subcategory or "",
                c.affected,
                c.age_band,
                c.region,
                int(c.urgent),
                c.locale,
                int(c.may_answer),
                c.status,
                c.closed_at.isoformat(timespec="minutes") if c.closed_at else "",
                c.closed_by or "",
                c.outcome or "",
                c.rating or "",
                _minutes(c.created_at, c.taken_at) or "",
                _minutes(c.created_at, c.first_answer_at) or "",
                c.escalations,
            ]
            writer.writerow(row + ([c.description or ""] if with_text else []))
        async with self._sessions.begin() as session:
            audit(session, staff_id, "export", detail=f"{days}d{' text' if with_text else ''}")
        return out.getvalue()
