"""Scale benchmark: years of data. Seeds a database with realistic rows through the project's
own tables (cases, their messages, people, outbox, relay links, handled updates, broadcast
deliveries), then times what runs against the whole history: /stats, /export, the retention
job, the sender's idle claim, /metrics, the escalation sweep, /queue and /healthz.

    .venv/bin/python -m bench.scale [--cases 100000 1000000] [--db sqlite postgresql]
                                    [--runs 3] [--memory] [--only queue escalation]

The rows are what three years of a national line leave behind in steady state: cases spread
over three years, almost all closed; those closed more than RETENTION_DAYS (+1) ago already
erased by the daily retention job; two outbox rows and two relay links per case; a case
message per case; a tenth of the people subscribed, a broadcast a month to them; a day of
handled update ids. Each operation runs `--runs` times (after one warm-up); the median is
printed, with the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, func, insert, select, text

from bot.app import Services
from bot.db import migrate
from bot.services.retention import erase_expired
from bot.settings import Settings
from bot.web import health
from models import (
    Base,
    Broadcast,
    BroadcastDelivery,
    Case,
    CaseMessage,
    HandledUpdate,
    OutboxMessage,
    Person,
    RelayLink,
)
from tests.conftest import database_for

YEARS = 3
RETENTION_DAYS = 90
STAFF_CHAT = -100200300
KINDS = {
    "report": ["bullying", "domestic", "sexual", "discrimination", "other"],
    "legal": ["family", "labour", "housing", "other"],
    "psych": ["anxiety", "grief", "crisis", "other"],
}
REGIONS = ["almaty", "astana", "shymkent", "karaganda", "aktobe", "pavlodar", "atyrau", "other"]
BATCH = 20_000


def table(model: type[Base]) -> Table:
    return model.__table__  # type: ignore[return-value]


class Seeder:
    """Rows for `n` cases over YEARS years ending `now`, in steady state."""

    def __init__(self, n: int, now: datetime) -> None:
        self.n = n
        self.now = now
        self.rng = random.Random(19)
        self.span = timedelta(days=365 * YEARS)
        self.erased_before = now - timedelta(days=RETENTION_DAYS + 1)
        self.people = [f"p{i:063d}"[-64:] for i in range(max(n * 3 // 10, 10))]
        self.subscribers = self.people[: len(self.people) // 10]

    def case(self, i: int) -> dict[str, Any]:
        rng = self.rng
        created = self.now - self.span * (1 - i / self.n) + timedelta(seconds=rng.random())
        kind = rng.choice(list(KINDS))
        recent = self.now - created < timedelta(days=2)
        open_ = recent and rng.random() < 0.3
        taken = (
            None
            if open_ and rng.random() < 0.5
            else created + timedelta(minutes=rng.expovariate(1 / 12))
        )
        closed = None if open_ else created + timedelta(hours=rng.uniform(1, 240))
        closed = min(closed, self.now) if closed else None
        erased = closed is not None and closed < self.erased_before
        return {
            "id": i + 1,
            "code": f"{i + 1:09d}",
            "kind": kind,
            "category": rng.choice(KINDS[kind]),
            "subcategory": None,
            "affected": rng.choice(["me", "child", "other"]),
            "age_band": rng.choice(["u14", "14_17", "18_29", "30_59", "60p"]),
            "region": rng.choice(REGIONS),
            "urgent": rng.random() < 0.05,
            # Staff assess most open cases; closed ones keep what they had (a tenth of them).
            "risk": rng.choice([None, "low", "medium", "medium", "high", "imminent"])
            if open_ or rng.random() < 0.1
            else None,
            "locale": rng.choice(["kk", "ru", "en"]),
            "description": None if erased else "Someone pushes me at school every day.",
            "may_answer": True,
            "consent_version": "2026-01",
            "consent_at": created,
            "status": "open" if open_ else "closed",
            "created_at": created,
            "closed_at": closed,
            "closed_by": None if open_ else rng.choice(["staff", "person"]),
            "person": None if erased else rng.choice(self.people),
            "reply_to": None if erased else "gAAAAABencryptedchatid" * 4,
            "staff_chat_id": STAFF_CHAT,
            "card_message_id": 2 * i + 1,
            "taken_by": 1000 + i % 40 if taken else None,
            "taken_at": taken,
            "first_answer_at": taken + timedelta(minutes=rng.expovariate(1 / 20))
            if taken
            else None,
            "escalations": 0,
            "outcome": None if open_ else rng.choice(["helped", "referred", "no_answer"]),
            "rating": rng.choice([None, None, 3, 4, 5]),
            "intake_key": None,
        }

    def follow_ups(self, c: dict[str, Any]) -> Iterator[tuple[type[Base], dict[str, Any]]]:
        erased = c["description"] is None
        payload = "{}" if erased else json.dumps({"chat": "gAAAAABencrypted" * 4, "text": "…"})
        for k, kind in enumerate(("confirmation", "card")):
            yield (
                OutboxMessage,
                {
                    "kind": kind,
                    "case_id": c["id"],
                    "payload": payload,
                    "status": "sent",
                    "attempts": 0,
                    "due_at": c["created_at"],
                    "created_at": c["created_at"],
                    "sent_at": c["created_at"] + timedelta(seconds=1),
                },
            )
            yield (
                RelayLink,
                {
                    "chat_id": STAFF_CHAT,
                    "message_id": 2 * c["id"] + k,
                    "case_id": c["id"],
                },
            )
        yield (
            CaseMessage,
            {
                "case_id": c["id"],
                "direction": "in",
                "media": "text",
                "text": None if erased else "And today again.",
                "source_message_id": None if erased else 7,
                "created_at": c["created_at"],
            },
        )

    def rows(self) -> Iterator[tuple[type[Base], dict[str, Any]]]:
        for p in self.people:
            yield Person, self.person(p)
        for i in range(self.n):
            c = self.case(i)
            yield Case, c
            yield from self.follow_ups(c)
        yield from self.broadcasts()
        per_day = max(self.n // (365 * YEARS), 1) * 13  # 13 updates for one report
        for u in range(per_day * 25 // 24):
            yield (
                HandledUpdate,
                {
                    "update_id": u - per_day * 25 // 24,  # below any the stand-in sends
                    "at": self.now - timedelta(hours=25) * (1 - u / (per_day * 25 // 24)),
                },
            )

    def person(self, p: str) -> dict[str, Any]:
        subscribed = p in self.subscriber_set
        # Unsubscribed people untouched for RETENTION_DAYS were deleted by retention already.
        age = self.span if subscribed else timedelta(days=RETENTION_DAYS)
        at = self.now - age * self.rng.random()
        return {
            "pseudonym": p,
            "locale": "ru",
            "subscribed": subscribed,
            "chat": "gAAAAABencrypted" if subscribed else None,
            "created_at": at,
            "updated_at": at,
        }

    @property
    def subscriber_set(self) -> set[str]:
        if not hasattr(self, "_subscriber_set"):
            self._subscriber_set = set(self.subscribers)
        return self._subscriber_set

    def broadcasts(self) -> Iterator[tuple[type[Base], dict[str, Any]]]:
        for b in range(12 * YEARS):  # one a month
            at = self.now - self.span + timedelta(days=30 * b)
            yield (
                Broadcast,
                {
                    "id": b + 1,
                    "created_by": 1000,
                    "created_at": at,
                    "versions": "{}",
                    "status": "done",
                    "admin_chat_id": 1000,
                    "started_at": at,
                    "finished_at": at + timedelta(hours=1),
                },
            )
            for p in self.subscribers:
                status = "sent" if self.rng.random() < 0.97 else "blocked"
                yield (
                    BroadcastDelivery,
                    {
                        "broadcast_id": b + 1,
                        "person": p,
                        "status": status,
                        "at": at,
                        "attempts": 0,
                    },
                )


async def seed(services: Services, n: int, now: datetime) -> float:
    started = time.monotonic()
    await migrate(services.engine)
    pending: dict[type[Base], list[dict[str, Any]]] = {}
    order = [Person, Case, Broadcast, OutboxMessage, RelayLink, CaseMessage, BroadcastDelivery]
    order.append(HandledUpdate)

    async def flush(everything: bool) -> None:
        async with services.engine.begin() as connection:
            for model in order:  # parents before children
                rows = pending.get(model) or []
                if rows and (
                    everything or len(rows) >= BATCH or model in (Person, Case, Broadcast)
                ):
                    await connection.execute(insert(table(model)), rows)
                    pending[model] = []

    for count, (model, row) in enumerate(Seeder(n, now).rows(), 1):
        pending.setdefault(model, []).append(row)
        if count % BATCH == 0:
            await flush(False)
    await flush(True)
    await analyse(services)
    if hasattr(services.stats, "summarise"):  # what the daily job had stored by now
        await services.stats.summarise(now)  # type: ignore[attr-defined]
    return time.monotonic() - started


async def analyse(services: Services) -> None:
    if services.engine.dialect.name == "postgresql":
        async with services.engine.begin() as connection:  # ids were given: go on after them
            for name in ("cases", "broadcasts"):
                sequence = f"pg_get_serial_sequence('{name}', 'id')"
                await connection.execute(text(f"SELECT setval({sequence}, max(id)) FROM {name}"))
        async with services.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    else:
        async with services.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


# --- the operations, on main's code and on the new ------------------------------------------


async def export_year(services: Services, memory: dict[str, float]) -> None:
    stats: Any = services.stats
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        if hasattr(stats, "export_to"):
            started = time.monotonic()
            first: list[float] = []
            await stats.export_to(
                path, 365, 1000, on_first_bytes=lambda: first.append(time.monotonic())
            )
            memory["first_bytes"] = (first[0] if first else time.monotonic()) - started
        else:  # main: the whole file as one string
            path.write_text(await stats.export_csv(365, 1000), encoding="utf-8-sig")


async def export_xlsx(services: Services) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await services.stats.export_to(Path(tmp) / "export.xlsx", 365, 1000, kind="xlsx")  # type: ignore[attr-defined]


async def retention_day(services: Services, day: list[int]) -> None:
    day[0] += 1  # each run a day later: what expired since the last one
    now = datetime.now(UTC) + timedelta(days=day[0])
    await erase_expired(services.sessions, RETENTION_DAYS, now)
    if hasattr(services.outbox, "prune_sent"):  # the rest of the daily job
        await services.outbox.prune_sent(now)
        await services.broadcasts.prune_finished(now)  # type: ignore[attr-defined]
        await services.stats.summarise(now)  # type: ignore[attr-defined]


async def metrics_queries(services: Services) -> None:
    if hasattr(services.stats, "opened"):  # the queries bot/web.py's /metrics runs now
        await services.outbox.backlog()
        await services.stats.opened()
        await services.broadcasts.delivery_counts()  # type: ignore[attr-defined]
        return
    # main: the queries bot/web.py's /metrics ran
    await services.outbox.backlog()
    async with services.sessions() as session:
        await session.scalar(select(func.count()).select_from(Case))
        await session.execute(
            select(BroadcastDelivery.status, func.count()).group_by(BroadcastDelivery.status)
        )


async def idle_claim(services: Services) -> None:
    assert await services.outbox.claim_next() is None


def operations(services: Services) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    application = SimpleNamespace(services=services)
    day = [0]
    memory: dict[str, float] = {}
    return [
        ("/stats 365 days", lambda: services.stats.report(365)),
        ("/stats 30 days", lambda: services.stats.report(30)),
        ("/export 365 days (CSV)", lambda: export_year(services, memory)),
        *(
            [("/export 365 days (xlsx)", lambda: export_xlsx(services))]
            if hasattr(services.stats, "export_to")  # main had no .xlsx
            else []
        ),
        ("retention job, a day's run", lambda: retention_day(services, day)),
        ("outbox claim, nothing due", lambda: idle_claim(services)),
        ("/metrics queries", lambda: metrics_queries(services)),
        ("escalation sweep", lambda: services.casework.escalate_due(timedelta(minutes=15))),
        ("/queue (open cases by risk)", lambda: services.triage.queue()),
        ("/healthz", lambda: health(application)),  # type: ignore[arg-type]
    ]


async def timed(op: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    """The first run is a warm-up (for retention: the catch-up over every case expired before
    the marker existed); its time is the first of the list, left out of the median."""
    started = time.perf_counter()
    await op()
    times = [time.perf_counter() - started]
    for _ in range(runs):
        started = time.perf_counter()
        await op()
        times.append(time.perf_counter() - started)
    return times


def shown(times: list[float]) -> str:
    m = statistics.median(times)
    text_ = f"{m * 1000:.1f} ms" if m < 1 else f"{m:.2f} s"
    return f"{text_} ({min(times) * 1000:.0f}–{max(times) * 1000:.0f})"


async def peak_memory(export: Callable[[], Awaitable[None]]) -> str:
    tracemalloc.start()
    try:
        await export()
        return f"{tracemalloc.get_traced_memory()[1] / 2**20:.0f} MB"
    finally:
        tracemalloc.stop()


def services_for(url: str) -> Services:
    settings = Settings(
        bot_token="1:bench",  # type: ignore[arg-type]
        secret_key="Qorgau-bench-key-8Vw3Nq6Zr1Kt9Hx4Lm2Pb7Yc",  # type: ignore[arg-type]
        staff_chat_id=STAFF_CHAT,
        database_url=url,
        retention_days=RETENTION_DAYS,
    )
    return Services.create(settings)


async def measure(
    backend: str, n: int, runs: int, memory: bool, only: list[str] | None = None
) -> dict[str, str]:
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            services = services_for(url)
            try:
                took = await seed(services, n, datetime.now(UTC))
                print(f"  seeded {n} cases on {backend} in {took:.0f} s", flush=True)
                for name, op in operations(services):
                    if only and not any(part in name for part in only):
                        continue
                    warm_up, *times = await timed(op, runs)
                    results[name] = shown(times)
                    print(f"  {name}: {results[name]}, first run {warm_up:.2f} s", flush=True)
                exports = not only or any("export" in part for part in only)
                if hasattr(services.stats, "export_to") and exports:
                    memo: dict[str, float] = {}
                    await export_year(services, memo)
                    results["/export first bytes"] = f"{memo['first_bytes'] * 1000:.0f} ms"
                if memory:
                    results["/export 365 days, peak memory"] = await peak_memory(
                        partial(export_year, services, {})
                    )
                    if hasattr(services.stats, "export_to"):
                        results["/export 365 days (xlsx), peak memory"] = await peak_memory(
                            partial(export_xlsx, services)
                        )
            finally:
                await services.engine.dispose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="peak memory of the year's export")
    parser.add_argument("--only", nargs="+", help="only the operations whose names hold these")
    args = parser.parse_args()
    columns: dict[tuple[int, str], dict[str, str]] = {}
    for n in args.cases:
        for backend in args.db:
            print(f"{n} cases, {backend}", flush=True)
            columns[(n, backend)] = await measure(backend, n, args.runs, args.memory, args.only)
    names = list(dict.fromkeys(k for c in columns.values() for k in c))
    heads = [f"{n // 1000}k {b}" for n, b in columns]
    print("\n| operation | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for name in names:
        print(f"| {name} | " + " | ".join(c.get(name, "—") for c in columns.values()) + " |")


if __name__ == "__main__":
    asyncio.run(main())
