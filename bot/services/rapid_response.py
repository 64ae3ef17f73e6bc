"""The rapid-response protocol of urgent child cases (bot/data/rapid_response.toml,
docs/rapid-response.md): its steps are written with their deadlines when such a case is
opened, pressed under the card, swept for missed deadlines, and timed for /stats."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from statistics import median

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import affected, read_alone
from bot.services.outbox import Outbox, enqueue
from bot.services.staff import ROLE_FOR_KIND
from models import Case, CaseStep, StaffMember
from models.enums import SENIOR_ROLES, CaseKind, CaseStatus, Role

PROTOCOL_FILE = Path(__file__).resolve().parent.parent / "data" / "rapid_response.toml"
# Outbox kinds (delivered by bot/workers/rapid_response.py).
URGENT_PING = "urgent_ping"  # to one staff member, privately: an urgent case came in
STEPS_MESSAGE = "rr_steps"  # under the card: the steps, as buttons
STEP_OVERDUE = "rr_overdue"  # under the card: a step missed its deadline, seniors mentioned


class ProtocolError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    key: str
    minutes: int
    role: str
    names: dict[str, str]  # locale: name

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["en"]


def load_protocol(path: Path = PROTOCOL_FILE) -> tuple[Step, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    steps = []
    for entry in data.get("step", []):
        key = entry.get("key")
        if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_]{1,16}", key):
            raise ProtocolError(f"step {key!r}: key must be a-z, 0-9, _ (at most 16)")
        minutes = entry.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise ProtocolError(f"step {key}: minutes must be a whole number above 0")
        if entry.get("role") not in set(Role):
            raise ProtocolError(f"step {key}: role must be one of {sorted(Role)}")
        names = {loc: entry.get(loc) for loc in ("en", "ru", "kk")}
        if not all(isinstance(n, str) and n.strip() for n in names.values()):
            raise ProtocolError(f"step {key}: a name in en, ru and kk is needed")
        steps.append(Step(key, minutes, entry["role"], {k: str(v) for k, v in names.items()}))
    if not steps:
        raise ProtocolError(f"{path}: no [[step]]")
    if len({s.key for s in steps}) != len(steps):
        raise ProtocolError(f"{path}: two steps have the same key")
    return tuple(steps)


@cache
def protocol() -> tuple[Step, ...]:
    return load_protocol()


def step_of(key: str) -> Step | None:
    return next((s for s in protocol() if s.key == key), None)


async def alert_urgent(session: AsyncSession, case: Case, *, child: bool) -> None:
    """In the caller's transaction (the case's own): a private ping to every coordinator
    and admin, on duty or not, and to the on-duty staff of the case's role; for a child,
    the protocol's steps with their deadlines, and their message under the card."""
    role = ROLE_FOR_KIND.get(CaseKind(case.kind), Role.COORDINATOR)
    members = await session.scalars(select(StaffMember).order_by(StaffMember.telegram_id))
    for member in members:
        if member.role in SENIOR_ROLES or (member.on_duty and member.role == role):
            enqueue(session, URGENT_PING, case.id, staff=member.telegram_id)
    if child:
        for step in protocol():
            due = case.created_at + timedelta(minutes=step.minutes)
            session.add(CaseStep(case_id=case.id, step=step.key, due_at=due))
        enqueue(session, STEPS_MESSAGE, case.id)


@dataclass(frozen=True)
class StepState:
    key: str
    due_at: datetime
    done_at: datetime | None
    done_by: int | None


class RapidResponse:
    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], outbox: Outbox
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._outbox = outbox

    async def steps(self, case_id: int) -> list[StepState]:
        """The case's steps in the protocol's order (none: not an urgent child case)."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(select(CaseStep).where(CaseStep.case_id == case_id))
            ).all()
        order = {s.key: i for i, s in enumerate(protocol())}
        rows = sorted(rows, key=lambda r: order.get(r.step, len(order)))
        return [StepState(r.step, r.due_at, r.done_at, r.done_by) for r in rows]

    async def done(
        self, case_id: int, key: str, staff_id: int, now: datetime | None = None
    ) -> bool:
        """Record a step as done (the first press counts); False if it was already."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(CaseStep)
                .where(
                    CaseStep.case_id == case_id, CaseStep.step == key, CaseStep.done_at.is_(None)
                )
                .values(done_at=now or datetime.now(UTC), done_by=staff_id)
            )
            return affected(result) > 0

    async def overdue_due(self, now: datetime | None = None) -> int:
        """Steps of open cases past their deadline and not done: a notice under the card,
        mentioning coordinators and admins, once per step."""
        now = now or datetime.now(UTC)
        overdue = and_(
            CaseStep.done_at.is_(None),
            CaseStep.overdue_at.is_(None),
            CaseStep.due_at <= now,
            Case.status == CaseStatus.OPEN,
        )
        steps = select(CaseStep.id, CaseStep.case_id, CaseStep.step).join(
            Case, Case.id == CaseStep.case_id
        )
        # Asked alone first (one round trip): most minutes nothing is overdue.
        if not await read_alone(self._engine, select(steps.where(overdue).exists())):
            return 0
        told = 0
        async with self._sessions.begin() as session:
            rows = await session.execute(steps.where(overdue))
            for row_id, case_id, key in rows.all():
                # Compare-and-set: with several instances, one of them tells.
                claimed = await session.execute(
                    update(CaseStep)
                    .where(CaseStep.id == row_id, CaseStep.overdue_at.is_(None))
                    .values(overdue_at=now)
                    .execution_options(synchronize_session=False)
                )
                if affected(claimed):
                    enqueue(session, STEP_OVERDUE, case_id, step=key)
                    told += 1
        return told

    async def medians(
        self, days: int, now: datetime | None = None
    ) -> dict[str, tuple[timedelta, int]]:
        """For each step done at least once in the cases of the last `days` days: the median
        time from the case coming in to the step, and how many times it was done."""
        since = (now or datetime.now(UTC)) - timedelta(days=days)
        async with self._sessions() as session:
            rows = await session.execute(
                select(CaseStep.step, CaseStep.done_at, Case.created_at)
                .join(Case, Case.id == CaseStep.case_id)
                .where(CaseStep.done_at.is_not(None), Case.created_at >= since)
            )
            waits: dict[str, list[float]] = {}
            for key, done_at, created_at in rows.all():
                assert done_at is not None
                waits.setdefault(key, []).append((done_at - created_at).total_seconds())
        return {k: (timedelta(seconds=median(v)), len(v)) for k, v in waits.items()}
