"""Throughput benchmark: N simulated people run the whole report flow at the same time
against the Bot API stand-in; a bare python-telegram-bot echo bot is measured in the same run
as the ceiling. Prints updates per second and p50/p95 latency per update.

    .venv/bin/python -m bench.throughput [--people 200] [--db sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.botapi import BotApi, User
from tests.conftest import database_for

ROOT = Path(__file__).resolve().parent.parent

# The report flow by callback data: what a person's taps send.
STEPS: list[tuple[str, str]] = [
    ("text", "/start"),
    ("tap", "m:report"),
    ("tap", "i:safe:yes"),
    ("tap", "i:category:bullying"),
    ("tap", "i:follow:school"),
    ("tap", "i:affected:me"),
    ("tap", "i:age:30_59"),
    ("tap", "i:region:almaty"),
    ("text", "They push me and take my things, every day, near the school gate."),
    ("tap", "i:describe:next"),
    ("tap", "i:answer:yes"),
    ("tap", "i:consent:agree"),
    ("tap", "i:summary:send"),
]


async def one_person(api: BotApi, user_id: int, latencies: list[float]) -> None:
    user = User(user_id)
    loop = asyncio.get_running_loop()
    for kind, value in STEPS:
        waiter: asyncio.Future[float] = loop.create_future()
        api.chat_waiters[user_id] = waiter
        started = time.monotonic()
        if kind == "text":
            await api.send(user, value)
        else:
            await api.press(user, api.screen(user_id), value)
        answered = await asyncio.wait_for(waiter, 30)
        latencies.append((answered - started) * 1000)


async def load(api: BotApi, people: int, first_id: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(one_person(api, first_id + n, latencies) for n in range(people)))
    return len(latencies) / (time.monotonic() - started), latencies


async def in_process(api: BotApi, module: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """The bot under test runs in a process of its own, as in production: the stand-in and
    the simulated people in this one do not eat its CPU time."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.url,
            **env,
        },
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await api.wait_for(lambda c: c.method == "deleteWebhook", after=len(api.calls), timeout=60)
    await asyncio.sleep(0.5)
    return process


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(
    api: BotApi, module: str, env: dict[str, str], people: int, first_id: int
) -> tuple[float, list[float], float]:
    process = await in_process(api, module, env)
    try:
        cpu_before = cpu_seconds(process.pid)
        rate, latencies = await load(api, people, first_id)
        cpu_ms = 1000 * (cpu_seconds(process.pid) - cpu_before) / len(latencies)
        return rate, latencies, cpu_ms
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


async def echo_ceiling(api: BotApi, people: int) -> tuple[float, list[float], float]:
    return await measured(api, "bench.echo_bot", {}, people, 5_000_000)


async def qorgau(
    api: BotApi, people: int, backend: str, first_id: int
) -> tuple[float, list[float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            env = {
                "SECRET_KEY": "bench-secret-key-0123456789",
                "STAFF_CHAT_ID": "-100200300",
                "DATABASE_URL": url,
                "DEFAULT_LOCALE": "en",
                "WEBHOOK_URL": "",
            }
            return await measured(api, "bot", env, people, first_id)
    raise RuntimeError("no database")


HEADER = f"{'':<22} {'updates':>7} {'updates/s':>10} {'p50 ms':>9} {'p95 ms':>9} {'CPU ms/upd':>12}"


def row(name: str, rate: float, latencies: list[float], cpu_ms: float) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"{name:<22} {len(latencies):>7} {rate:>10.1f} "
        f"{statistics.median(ordered):>9.1f} {p95:>9.1f} {cpu_ms:>12.2f}"
    )


async def run(people: int, backends: list[str]) -> None:
    api = BotApi()
    await api.start()
    rows = []
    runs: list[tuple[str, Callable[[], Awaitable[tuple[float, list[float], float]]]]] = [
        ("echo bot (ceiling)", lambda: echo_ceiling(api, people)),
    ]
    for n, backend in enumerate(backends):
        runs.append(
            (
                f"qorgau, {backend}",
                lambda b=backend, n=n: qorgau(api, people, b, 6_000_000 + n * 100_000),
            )
        )
    results: dict[str, Any] = {}
    for name, make in runs:
        rate, latencies, cpu_ms = await make()
        results[name] = rate
        rows.append(row(name, rate, latencies, cpu_ms))
    await api.stop()
    print(f"{people} people at once, {len(STEPS)} updates each (the whole report flow)")
    print(HEADER)
    print("\n".join(rows))
    ceiling = results["echo bot (ceiling)"]
    for name, rate in results.items():
        if name.startswith("qorgau"):
            print(f"{name}: {100 * rate / ceiling:.0f} % of the echo bot's rate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument(
        "--db", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    asyncio.run(run(args.people, args.db))


if __name__ == "__main__":
    main()
