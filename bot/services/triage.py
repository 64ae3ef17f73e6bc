"""Risk and the queue: /queue lists open cases by risk (imminent first), then by how long
they have waited (longest first). A case nobody assessed yet counts as high when it is
urgent and as medium otherwise (casework.effective_risk)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import N_
from models import Case
from models.enums import CaseStatus, RiskLevel

# In /queue's lines.
RISK_LABELS = {
    RiskLevel.LOW: N_("low"),
    RiskLevel.MEDIUM: N_("medium"),
    RiskLevel.HIGH: N_("high"),
    RiskLevel.IMMINENT: N_("imminent"),
}
NOT_ASSESSED = N_("not assessed")
NOT_ASSESSED_URGENT = N_("not assessed, urgent")
# On the buttons that set it.
RISK_NAMES = {
    RiskLevel.LOW: N_("Low"),
    RiskLevel.MEDIUM: N_("Medium"),
    RiskLevel.HIGH: N_("High"),
    RiskLevel.IMMINENT: N_("Imminent"),
}
# On the card.
RISK_LINES = {
    RiskLevel.LOW: N_("Risk: low"),
    RiskLevel.MEDIUM: N_("Risk: medium"),
    RiskLevel.HIGH: N_("Risk: high"),
    RiskLevel.IMMINENT: N_("Risk: imminent"),
}
RISK_NOT_ASSESSED = N_("Risk: not assessed")
RISK_NOT_ASSESSED_URGENT = N_("Risk: not assessed (urgent, so it counts as high)")
RISK_MARKS = {
    RiskLevel.LOW: "🟢",
    RiskLevel.MEDIUM: "🟡",
    RiskLevel.HIGH: "🟠",
    RiskLevel.IMMINENT: "🔴",
    None: "⚪",
}
# The queue's order. Read off the open cases only, through the partial index of open cases
# (ix_cases_open_created_at): a few hundred rows in a line's steady state, whatever the
# years of closed ones (bench/scale.py measures it at a million cases).
RANK = case(
    (Case.risk == RiskLevel.IMMINENT, 0),
    (Case.risk == RiskLevel.HIGH, 1),
    (and_(Case.risk.is_(None), Case.urgent.is_(True)), 1),
    (Case.risk == RiskLevel.LOW, 3),
    else_=2,  # medium, and not assessed (not urgent)
)


@dataclass(frozen=True)
class QueueEntry:
    code: str
    risk: str | None  # as staff set it (None: not assessed)
    urgent: bool
    taken_by: int | None
    created_at: datetime


@dataclass(frozen=True)
class Queue:
    entries: list[QueueEntry]
    total: int  # open cases in all (the entries are the first of them)


class Triage:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def queue(self, limit: int = 30) -> Queue:
        # Written out, not bound: the planner then knows it is the partial index's condition.
        is_open = Case.status == literal_column(f"'{CaseStatus.OPEN}'")
        columns = (Case.code, Case.risk, Case.urgent, Case.taken_by, Case.created_at)
        async with self._sessions() as session:
            rows = await session.execute(
                select(*columns).where(is_open).order_by(RANK, Case.created_at).limit(limit)
            )
            entries = [QueueEntry(*row) for row in rows]
            total = await session.scalar(select(func.count()).where(is_open))
        return Queue(entries, int(total or 0))
