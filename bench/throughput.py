"""Throughput benchmark: N simulated people run the whole report flow at the same time
against the Bot API stand-in; a bare python-telegram-bot echo bot is measured in the same run
as the ceiling. Prints updates per second and p50/p95 latency per update.

    .venv/bin/python -m bench.throughput [--people 200] [--db sqlite postgresql]
                                         [--mode polling webhook] [--cases 1000000]
    .venv/bin/python -m bench.throughput --compare 1000000 [--rounds 4] [--db …] [--mode …]

`--compare N` answers "is the paced report flow as fast with N cases in the database as with
none?" on a shared machine, where one run against another differs by more than the question:
an empty database and one seeded with N cases are kept side by side and measured in turns
(empty, N, N, empty, empty, N, …, each in a bot process of its own), paced only; it prints
each round's p95 and, per database, the median p95 with its spread.

Qorgau runs in polling mode (the default) and in webhook mode (the stand-in then POSTs each
update to the bot, as Telegram does, up to 40 at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from tests.botapi import BotApi, User
from tests.conftest import database_for
from tests.test_webhook import free_port

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


async def one_person(
    api: BotApi, user_id: int, latencies: list[float], think: tuple[float, float] | None
) -> None:
    user = User(user_id)
    loop = asyncio.get_running_loop()
    for kind, value in STEPS:
        if think is not None:  # a person reads the screen before tapping
            await asyncio.sleep(random.uniform(*think))
        waiter: asyncio.Future[float] = loop.create_future()
        api.chat_waiters[user_id] = waiter
        started = time.monotonic()
        if kind == "text":
            await api.send(user, value)
        else:
            await api.press(user, api.screen(user_id), value)
        answered = await asyncio.wait_for(waiter, 60)
        latencies.append((answered - started) * 1000)


async def load(
    api: BotApi, people: int, first_id: int, think: tuple[float, float] | None
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(one_person(api, first_id + n, latencies, think) for n in range(people)))
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
    # Polling deletes any webhook first; webhook mode registers its own.
    ready = "setWebhook" if env.get("WEBHOOK_URL") else "deleteWebhook"
    await api.wait_for(lambda c: c.method == ready, after=len(api.calls), timeout=60)
    await asyncio.sleep(0.5)
    return process


def cpu_seconds(pid: int) -> float:
    """CPU time of a process so far (Linux /proc), all its threads: the scheduler's own count
    in nanoseconds (schedstat). /proc/PID/stat counts in ticks of 10 ms, and a phase of 15
    relayed messages costs about 100 ms in all."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


# Flooded: everyone taps the moment the answer arrives (the most the bot can do).
# Paced: everyone reads each screen for 1-3 s first, as people do (latency under a real load).
SHAPES: dict[str, tuple[float, float] | None] = {"flooded": None, "paced 1-3 s": (1.0, 3.0)}


def p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def row(name: str, rate: float, latencies: list[float], cpu_ms: float) -> str:
    median, tail = statistics.median(latencies), p95(latencies)
    return f"{name:<40} {rate:>9.1f} {median:>8.1f} {tail:>8.1f} {cpu_ms:>8.2f}"


async def quiet(api: BotApi, seconds: float = 1.0) -> None:
    """Wait until the bot has made no Bot API call (but polling) for `seconds`."""
    while True:
        before = sum(c.method != "getUpdates" for c in api.calls)
        await asyncio.sleep(seconds)
        if sum(c.method != "getUpdates" for c in api.calls) == before:
            return


async def measure(
    api: BotApi,
    name: str,
    module: str,
    env: dict[str, str],
    people: int,
    first_id: int,
    shapes: dict[str, tuple[float, float] | None] = SHAPES,
) -> list[tuple[str, float, str, float]]:
    """Run one bot in its own process through every load shape; rows for the table (the
    shape, updates per second, the line, the p95 in ms)."""
    process = await in_process(api, module, env)
    results = []
    try:
        for n, (shape, think) in enumerate(shapes.items()):
            await quiet(api)  # the last run's cards sent, nothing left over
            cpu_before = cpu_seconds(process.pid)
            rate, latencies = await load(api, people, first_id + n * people, think)
            cpu_ms = 1000 * (cpu_seconds(process.pid) - cpu_before) / len(latencies)
            line = row(f"{name}, {shape}", rate, latencies, cpu_ms)
            results.append((shape, rate, line, p95(latencies)))
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    return results


async def seeded(url: str, cases: int) -> None:
    """Years of cases in the database first (see bench/scale.py)."""
    from bench.scale import seed, services_for

    services = services_for(url)
    try:
        took = await seed(services, cases, datetime.now(UTC))
        print(f"seeded {cases} cases in {took:.0f} s", flush=True)
    finally:
        await services.engine.dispose()


def qorgau_env(api: BotApi, url: str, mode: str) -> dict[str, str]:
    env = {
        "SECRET_KEY": "Qorgau-bench-key-8Vw3Nq6Zr1Kt9Hx4Lm2Pb7Yc",
        "STAFF_CHAT_ID": "-100200300",
        "DATABASE_URL": url,
        "DEFAULT_LOCALE": "en",
        "WEBHOOK_URL": "",
    }
    if mode == "webhook":
        port = free_port()
        api.webhook_host = f"http://127.0.0.1:{port}"
        env |= {
            "WEBHOOK_URL": "https://qorgau.example.org/telegram",
            "WEBHOOK_SECRET": "bench-webhook-secret",
            "PORT": str(port),
        }
    return env


async def measure_qorgau(
    api: BotApi, backend: str, mode: str, people: int, first_id: int, cases: int = 0
) -> list[tuple[str, float, str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            if cases:
                await seeded(url, cases)
            name = f"qorgau, {backend}, {mode}" + (f", {cases // 1000}k cases" if cases else "")
            return await measure(api, name, "bot", qorgau_env(api, url, mode), people, first_id)
    raise RuntimeError("no database")


@contextlib.asynccontextmanager
async def one_database(backend: str) -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        databases = database_for(backend, Path(tmp))
        url = await anext(databases)
        try:
            yield url
        finally:
            with contextlib.suppress(StopAsyncIteration):  # drops it (PostgreSQL)
                await anext(databases)


async def compare(
    people: int, backends: list[str], modes: list[str], cases: int, rounds: int
) -> None:
    """Paced runs against an empty database and one with `cases` cases, in turns."""
    api = BotApi()
    await api.start()
    paced = {"paced 1-3 s": SHAPES["paced 1-3 s"]}
    first_id, summary = 3 * 10**6, []
    for backend in backends:
        async with one_database(backend) as empty, one_database(backend) as full:
            urls = {"empty": empty, f"{cases // 1000}k": full}
            await seeded(full, cases)
            for mode in modes:
                tails: dict[str, list[float]] = {name: [] for name in urls}
                for r in range(rounds):
                    order = list(urls) if r % 2 == 0 else list(reversed(urls))
                    for name in order:
                        env = qorgau_env(api, urls[name], mode)
                        label = f"qorgau, {backend}, {mode}, {name}"
                        [(_, _, line, tail)] = await measure(
                            api, label, "bot", env, people, first_id, paced
                        )
                        first_id += people
                        tails[name].append(tail)
                        print(f"round {r + 1}: {line}", flush=True)
                for name, values in tails.items():
                    summary.append(
                        f"{backend}, {mode}, {name}: median p95 "
                        f"{statistics.median(values):.0f} ms "
                        f"({min(values):.0f}–{max(values):.0f}, {len(values)} runs)"
                    )
    await api.stop()
    print(f"{people} people paced 1-3 s, {len(STEPS)} updates each; p95 of each run:")
    print("\n".join(summary))


async def run(people: int, backends: list[str], modes: list[str], cases: int) -> None:
    api = BotApi()
    await api.start()
    echo = await measure(api, "echo, PTB default (httpx)", "bench.echo_bot", {}, people, 10**6)
    echo_aiohttp = await measure(
        api, "echo, aiohttp like qorgau", "bench.echo_bot", {"ECHO_AIOHTTP": "1"}, people, 2 * 10**6
    )
    setups = [(backend, mode) for backend in backends for mode in modes]
    qorgau = [
        await measure_qorgau(api, backend, mode, people, (3 + n) * 10**6, cases)
        for n, (backend, mode) in enumerate(setups)
    ]
    await api.stop()
    print(f"{people} people at once, {len(STEPS)} updates each (the whole report flow); 2 cores")
    print(f"{'':<40} {'upd/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>8}")
    for rows in [echo, echo_aiohttp, *qorgau]:
        print("\n".join(line for _, _, line, _ in rows))
    ceiling = {shape: rate for shape, rate, *_ in echo}
    same_transport = {shape: rate for shape, rate, *_ in echo_aiohttp}
    for (backend, mode), results in zip(setups, qorgau, strict=True):
        shape, rate, *_ = results[0]
        print(
            f"qorgau, {backend}, {mode}, {shape}: {100 * rate / ceiling[shape]:.0f} % of the "
            f"bare PTB echo bot, {100 * rate / same_transport[shape]:.0f} % of the aiohttp echo bot"
        )
    print("CPU ms: the bot process's CPU time (user + system) per update handled.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument(
        "--db", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--mode", nargs="+", choices=["polling", "webhook"], default=["polling", "webhook"]
    )
    parser.add_argument(
        "--cases", type=int, default=0, help="seed this many cases first (bench/scale.py)"
    )
    parser.add_argument(
        "--compare", type=int, metavar="N", help="paced, empty and N cases in turns (see above)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="with --compare: turns each")
    args = parser.parse_args()
    if args.compare:
        asyncio.run(compare(args.people, args.db, args.mode, args.compare, args.rounds))
    else:
        asyncio.run(run(args.people, args.db, args.mode, args.cases))


if __name__ == "__main__":
    main()
