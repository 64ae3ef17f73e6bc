"""Broadcast benchmark: N subscribers through the Bot API stand-in, while people press /start.

Prints the achieved broadcast rate against BROADCAST_RATE and the /start latency (p50/p95)
measured during the broadcast. Not a test: it prints numbers.

    .venv/bin/python -m bench.broadcast [--subscribers 10000] [--rate 25] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.identity import Identity
from models import Person
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, database_for, make_settings
from tests.harness import Harness


async def add_subscribers(engine: AsyncEngine, identity: Identity, first: int, count: int) -> None:
    """Subscribers with the ids first, first + 1, … (English), written straight away."""
    rows = [
        {
            "pseudonym": identity.pseudonym(i),
            "locale": "en",
            "subscribed": True,
            "chat": identity.encrypt(i),
        }
        for i in range(first, first + count)
    ]
    async with engine.begin() as connection:
        for start in range(0, len(rows), 1000):
            await connection.execute(insert(Person), rows[start : start + 1000])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(subscribers: int, rate: float, backend: str) -> None:
    api = BotApi()
    await api.start()
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            h = Harness(api, make_settings(api, url, default_locale="en", broadcast_rate=rate))
            await h.start()
            try:
                assert h.app is not None
                services = h.app.services
                await add_subscribers(services.engine, services.identity, 1_000_000, subscribers)
                admin = h.volunteer(ADMIN_ID, "Admin")
                await admin.send("/broadcast")
                await admin.send("Bench message")
                await admin.tap("Preview")
                started = time.monotonic()
                await admin.tap("Send")
                latencies: list[float] = []
                person_id = 2_000_000
                assert h.app is not None
                while await h.app.services.broadcasts.running():
                    person = h.person(person_id)
                    person_id += 1
                    t0 = time.monotonic()
                    await person.send("/start")
                    latencies.append((time.monotonic() - t0) * 1000)
                    await asyncio.sleep(0.5)
                elapsed = time.monotonic() - started
                times = sorted(
                    c.at
                    for c in api.calls
                    if c.params.get("text") == "Bench message"
                    and c.params.get("chat_id", 0) >= 1_000_000
                )
                achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0
                print(f"database            {backend}")
                print(f"subscribers         {subscribers}")
                print(f"delivered           {len(times)} in {elapsed:.1f} s")
                print(f"BROADCAST_RATE      {rate:g} msg/s")
                print(
                    f"achieved rate       {achieved:.2f} msg/s "
                    f"({100 * achieved / rate:.1f} % of the limit)"
                )
                if latencies:
                    print(
                        f"/start during it    n={len(latencies)} "
                        f"p50={statistics.median(latencies):.1f} ms "
                        f"p95={percentile(latencies, 0.95):.1f} ms "
                        f"max={max(latencies):.1f} ms"
                    )
            finally:
                await h.stop()
    await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=25)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(run(args.subscribers, args.rate, args.db))


if __name__ == "__main__":
    main()
