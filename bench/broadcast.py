"""Broadcast benchmark: N subscribers through the Bot API stand-in, while people press /start.

For each database it prints: how long seeding took, the time from the admin's "Send" to the
first message out, the sustained rate over `--seconds` of sending against BROADCAST_RATE, the
process's resident memory before "Send" and at its peak while sending, and the /start latency
(p50/p95) measured meanwhile. After `--seconds` the broadcast is cancelled (a full run at 30/s
of 100,000 takes an hour). Not a test: it prints numbers.

    .venv/bin/python -m bench.broadcast [--subscribers 100000] [--rate 30] [--seconds 60]
        [--db sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.identity import Identity
from models import Person
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, database_for, make_settings
from tests.harness import Harness, Volunteer

FIRST_SUBSCRIBER = 1_000_000
CHUNK = 5000


def subscriber_rows(
    identity: Identity, first: int, count: int
) -> Iterator[list[dict[str, object]]]:
    """Subscribers with the ids first, first + 1, … (English), a chunk at a time so that
    seeding itself does not swell the memory measured later."""
    for start in range(first, first + count, CHUNK):
        yield [
            {
                "pseudonym": identity.pseudonym(i),
                "locale": "en",
                "subscribed": True,
                "chat": identity.encrypt(i),
            }
            for i in range(start, min(start + CHUNK, first + count))
        ]


async def add_subscribers(engine: AsyncEngine, identity: Identity, first: int, count: int) -> None:
    """One transaction; each chunk one multi-row INSERT (executemany)."""
    async with engine.begin() as connection:
        for rows in subscriber_rows(identity, first, count):
            await connection.execute(insert(Person), rows)


def rss_mb() -> float:
    """The resident set size of this process (bot and stand-in together), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Sampler:
    """The peak resident memory, sampled every 50 ms while running."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(0.05)

    def stop(self) -> float:
        self._task.cancel()
        return max(self.peak, rss_mb())


def bench_times(api: BotApi) -> list[float]:
    return sorted(
        c.at
        for c in api.calls
        if c.params.get("text") == "Bench message"
        and int(c.params.get("chat_id", 0)) >= FIRST_SUBSCRIBER
    )


async def start_latency(h: Harness, user_id: int) -> float:
    """Milliseconds from a new person's /start to the bot having answered it."""
    t0 = time.monotonic()
    await h.person(user_id).send("/start")
    return (time.monotonic() - t0) * 1000


async def press_without_waiting(h: Harness, admin: Volunteer, label: str) -> None:
    """Press the newest button with this text; the clock runs from here (`tap` would wait
    for the handler, and a slow one outlives the harness's patience)."""
    for message in sorted(h.api.messages[admin.user.id].values(), key=lambda m: -m["message_id"]):
        if any(text == label for text, _ in h.api.buttons(message)):
            data = next(d for text, d in h.api.buttons(message) if text == label)
            await h.api.press(admin.user, message, data)
            h.pushed(h.api._updates[-1]["update_id"])
            return
    raise AssertionError(f"no button {label!r}")


async def measure(h: Harness, api: BotApi, seconds: float) -> dict[str, object]:
    assert h.app is not None
    admin = h.volunteer(ADMIN_ID, "Admin")
    await admin.send("/broadcast")
    await admin.send("Bench message")
    await admin.tap("Preview")
    idle = [await start_latency(h, 3_000_000 + n) for n in range(20)]  # the same, no broadcast
    rss_before = rss_mb()
    sampler = Sampler()
    started = time.monotonic()
    await press_without_waiting(h, admin, "Send")
    latencies: list[float] = []
    person_id = 2_000_000

    async def first_out() -> bool:
        return bool(bench_times(api))

    await h.until(first_out, timeout=60)
    first = bench_times(api)[0] - started if bench_times(api) else float("inf")
    while time.monotonic() - started < first + seconds:
        latencies.append(await start_latency(h, person_id))
        person_id += 1
        await asyncio.sleep(0.5)
    peak = sampler.stop()
    for broadcast_id in await h.app.services.broadcasts.running():
        await h.app.services.broadcasts.set_status(broadcast_id, "cancelled")
    times = bench_times(api)
    window = [t for t in times if t <= times[0] + seconds] if times else []
    achieved = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 else 0.0
    return {
        "first": first,
        "sent": len(window),
        "achieved": achieved,
        "rss_before": rss_before,
        "rss_peak": peak,
        "p50": statistics.median(latencies) if latencies else 0.0,
        "p95": percentile(latencies, 0.95) if latencies else 0.0,
        "n": len(latencies),
        "idle_p95": percentile(idle, 0.95),
    }


async def run_one(subscribers: int, rate: float, seconds: float, backend: str) -> None:
    api = BotApi()
    await api.start()
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            h = Harness(api, make_settings(api, url, default_locale="en", broadcast_rate=rate))
            await h.start()
            try:
                assert h.app is not None
                services = h.app.services
                t0 = time.monotonic()
                await add_subscribers(
                    services.engine, services.identity, FIRST_SUBSCRIBER, subscribers
                )
                seeded = time.monotonic() - t0
                r = await measure(h, api, seconds)
            finally:
                await h.stop()
    await api.stop()
    print(f"database            {backend}")
    print(f"subscribers         {subscribers} (seeded in {seeded:.1f} s)")
    print(f"Send to first msg   {r['first']:.2f} s")
    print(
        f"sustained rate      {r['achieved']:.2f} msg/s over {seconds:g} s "
        f"({r['sent']} sent; {100 * float(r['achieved']) / rate:.1f} % of BROADCAST_RATE={rate:g})"  # type: ignore[arg-type]
    )
    print(f"memory (RSS)        {r['rss_before']:.0f} MB before Send, peak {r['rss_peak']:.0f} MB")
    print(
        f"/start during it    n={r['n']} p50={r['p50']:.1f} ms p95={r['p95']:.1f} ms "
        f"(p95 before Send, no broadcast: {r['idle_p95']:.1f} ms)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--db", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    for backend in args.db:
        asyncio.run(run_one(args.subscribers, args.rate, args.seconds, backend))


if __name__ == "__main__":
    main()
