"""Relay benchmark: what one relayed message costs, each way, on PostgreSQL (polling), next to
the bare echo bot. Prints CPU ms of the bot process and database transactions (PostgreSQL's
own count) per relayed message, and p50/p95 from the message to its copy. Not a test.

Person -> staff goes at the pace Telegram allows in one staff group (about 20 a minute, one
every 3 s after a burst): faster, the bot's rate limiter holds the copies back, as Telegram
would refuse them. Staff -> person: every person gets an answer each second (about one a
second per private chat is allowed), spread over the second as independent volunteers write,
and once more all at the same instant (the worst case).

    .venv/bin/python -m bench.relay [--people 20] [--to-staff 15] [--rounds 6]

About 9.5 minutes: the bot's sweeps run first 1 to 5 minutes after its start, and the
measurements begin after them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import statistics
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg

from bench.broadcast import percentile
from bench.throughput import cpu_seconds, in_process, one_person, quiet
from tests.botapi import BotApi, User
from tests.conftest import ADMIN_ID, POSTGRES_ADMIN, database_for

STAFF_CHAT = -100200300
COMPARABLE_STAFF_CHAT = -100200400
STATS_FLUSH = 11.0  # PostgreSQL writes an idle backend's counts within about 10 s
# The bot's sweeps run first at 1 to 5 minutes after its start (bot/workers/sweeps.py), then
# hourly or daily: measured after those first runs, not inside one phase by chance.
FIRST_RUNS = 310.0
IDLE_SECONDS = 60.0  # the idle row: the jobs that run each minute, once


async def commits(database: str) -> int:
    await asyncio.sleep(STATS_FLUSH)
    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        count = await connection.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", database
        )
    finally:
        await connection.close()
    return int(count)


async def reply_to(api: BotApi, chat: int, after: int, words: str) -> dict[str, Any]:
    call = await api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.params["chat_id"] == chat
            and words in str(c.params.get("text", ""))
        ),
        after=after,
        timeout=60,
    )
    return call.params


async def staff_ready(api: BotApi, people: list[int], volunteers: int) -> list[User]:
    """Every person reported; `volunteers` joined (each takes a case by answering it)."""
    await asyncio.gather(*(one_person(api, uid, [], None) for uid in people))
    await quiet(api)
    admin = User(ADMIN_ID)
    staff = [User(ADMIN_ID + 1 + n) for n in range(volunteers)]
    for volunteer in staff:
        mark = len(api.calls)
        await api.send(admin, "/invite lawyer")
        link = str((await reply_to(api, ADMIN_ID, mark, "start=inv_"))["text"]).split("start=")[1]
        await api.send(volunteer, f"/start {link.split()[0]}")
        await api.send(volunteer, "/duty on")
    await quiet(api)
    return staff


def copy_time(api: BotApi, token: str, staff_chat: int = STAFF_CHAT) -> float:
    return next(
        c.at
        for c in api.calls
        if c.method == "sendMessage"
        and c.params["chat_id"] == staff_chat
        and token in str(c.params.get("text", ""))
    )


async def to_staff(
    api: BotApi, people: list[int], count: int, staff_chat: int = STAFF_CHAT
) -> list[float]:
    """`count` follow-ups, one every 3.1 s (the staff group's pace); latencies in ms."""
    sent: dict[str, float] = {}
    for n in range(count):
        token = f"follow-up-{n}"
        sent[token] = time.monotonic()
        await api.send(User(people[n % len(people)]), token)
        await asyncio.sleep(3.1)
    await quiet(api)
    return [(copy_time(api, token, staff_chat) - at) * 1000 for token, at in sent.items()]


async def to_people(
    api: BotApi,
    staff: list[User],
    people: list[int],
    rounds: int,
    volunteers: int,
    *,
    burst: bool = False,
    staff_chat: int = STAFF_CHAT,
) -> list[float]:
    """Each round, every person gets an answer (one a second per person): from the
    volunteer who took their case by answering first, or (`volunteers` 1) all from the
    admin, who may answer any case. The answers of a round are spread over its second, as
    people who do not wait for each other write; `burst`: all at the same instant."""
    spread = random.Random(7)
    # Each copy is answered for the person who wrote it (copies may arrive in another order
    # than they were written: the sender serves cases in turn).
    relayed: dict[int, dict[str, Any]] = {}
    for m in api.messages[staff_chat].values():
        found = re.search(r"follow-up-(\d+)", str(m.get("text", "")))
        if found:
            relayed.setdefault(people[int(found.group(1)) % len(people)], m)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    owner = {uid: staff[people.index(uid) % len(staff)] for uid in relayed}

    async def answer(uid: int, message: dict[str, Any], n: int) -> None:
        if not burst:
            await asyncio.sleep(spread.random())
        waiter: asyncio.Future[float] = loop.create_future()
        api.chat_waiters[uid] = waiter
        started = time.monotonic()
        volunteer = owner[uid] if volunteers > 1 else User(ADMIN_ID)
        await api.send_in_group(volunteer, staff_chat, f"answer {n}", reply_to=message)
        latencies.append((await asyncio.wait_for(waiter, 60) - started) * 1000)

    targets = list(relayed.items())
    for n in range(rounds):
        await asyncio.gather(*(answer(uid, m, n) for uid, m in targets), asyncio.sleep(1.0))
    return latencies


async def idle(pid: int, database: str, seconds: float = IDLE_SECONDS) -> tuple[float, float]:
    """What the bot spends with nothing to do: CPU ms and transactions per second."""
    xacts = await commits(database)
    cpu, started = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu_ms = 1000 * (cpu_seconds(pid) - cpu) / (time.monotonic() - started)
    return cpu_ms, (await commits(database) - xacts) / (seconds + STATS_FLUSH)


Row = tuple[float, float, list[float], float]


async def phase(pid: int, database: str, api: BotApi, run: Coroutine[Any, Any, list[float]]) -> Row:
    """(CPU ms, transactions, latencies, seconds) per relayed message of one direction. The
    CPU is counted while the messages go (the bot's idle work then included: the seconds
    say how much of it), not during the waits for PostgreSQL's counts; the transactions,
    over both (about 0.03 a second idle)."""
    xacts = await commits(database)
    cpu, started = cpu_seconds(pid), time.monotonic()
    latencies = await run
    await quiet(api)
    cpu_ms = 1000 * (cpu_seconds(pid) - cpu) / len(latencies)
    seconds = (time.monotonic() - started) / len(latencies)
    return cpu_ms, (await commits(database) - xacts) / len(latencies), latencies, seconds


def bot_env(url: str) -> dict[str, str]:
    """The bot's settings for these benchmarks: polling, PostgreSQL at `url`."""
    return {
        "SECRET_KEY": "Qorgau-bench-key-8Vw3Nq6Zr1Kt9Hx4Lm2Pb7Yc",
        "STAFF_CHAT_ID": str(STAFF_CHAT),
        "ADMIN_IDS": str(ADMIN_ID),
        "DATABASE_URL": url,
        "DEFAULT_LOCALE": "en",
        "WEBHOOK_URL": "",
        # One volunteer takes every case here (the limit per volunteer is 5 by default).
        "MAX_OPEN_CASES_PER_VOLUNTEER": "0",
    }


async def directions(
    api: BotApi,
    pid: int,
    database: str,
    ids: list[int],
    staff: list[User],
    rounds: int,
    idle_seconds: float = IDLE_SECONDS,
    staff_chat: int = STAFF_CHAT,
) -> dict[str, Row]:
    """The idle row, then each direction's phases, for the bot process `pid`."""
    count = len(staff)
    results: dict[str, Row] = {
        "idle, per second": (*await idle(pid, database, idle_seconds), [], 1.0),
        "person -> staff": await phase(pid, database, api, to_staff(api, ids, count, staff_chat)),
    }
    # A volunteer's messages are handled in order (their answers to one case must arrive in
    # order), so one volunteer's burst of answers queues.
    runs = (
        (count, False, "each case its volunteer"),
        (count, True, "the same, all at one instant"),
        (1, False, "one admin answers all"),
    )
    for volunteers, burst, name in runs:
        answers = to_people(
            api, staff, ids[:count], rounds, volunteers, burst=burst, staff_chat=staff_chat
        )
        results[f"staff -> person, {name}"] = await phase(pid, database, api, answers)
    return results


class Started(NamedTuple):
    """A bot under measurement: its process, its people, its staff and its staff group."""

    process: asyncio.subprocess.Process
    people: list[int]
    staff: list[User]
    staff_chat: int


async def start_qorgau(api: BotApi, url: str, people: int, volunteers: int) -> Started:
    """Qorgau with its people reported and `volunteers` joined, after its first sweeps."""
    process = await in_process(api, "bot", bot_env(url))
    began = time.monotonic()
    ids = [6_000_000 + n for n in range(people)]
    staff = await staff_ready(api, ids, volunteers)
    await asyncio.sleep(max(0.0, FIRST_RUNS - (time.monotonic() - began)))
    return Started(process, ids, staff, STAFF_CHAT)


async def start_comparable(
    api: BotApi, url: str, people: int, volunteers: int, *, durable: bool = False
) -> Started:
    """`bench.relay_bot` (one transaction each way, nothing kept for a crash; `durable`:
    Qorgau's Bot API calls and about its round trips, written plainly), with a staff group
    and people of its own; it has no sweeps to wait for."""
    staff_chat = COMPARABLE_STAFF_CHAT - 100 * durable
    env = {"DATABASE_URL": url, "STAFF_CHAT_ID": str(staff_chat)}
    if durable:
        env["RELAY_DURABLE"] = "1"
    process = await in_process(api, "bench.relay_bot", env)
    ids = [8_000_000 + 100_000 * durable + n for n in range(people)]
    staff = [User(ADMIN_ID + 1 + n) for n in range(volunteers)]
    return Started(process, ids, staff, staff_chat)


async def measure(
    api: BotApi, people: int, count: int, rounds: int, *, bot: str = "qorgau"
) -> dict[str, Row]:
    """Every phase of one bot ("qorgau", "comparable" or "durable") on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for("postgresql", Path(tmp)):
            if bot == "qorgau":
                started, idle_seconds = await start_qorgau(api, url, people, count), IDLE_SECONDS
            else:
                durable = bot == "durable"
                started = await start_comparable(api, url, people, count, durable=durable)
                idle_seconds = 30.0
            process, ids, staff, staff_chat = started
            try:
                database = url.rsplit("/", 1)[1]
                return await directions(
                    api, process.pid, database, ids, staff, rounds, idle_seconds, staff_chat
                )
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 30)
    raise AssertionError("database_for yields a database")


async def measure_echo(api: BotApi, people: int, rounds: int) -> tuple[float, list[float]]:
    process = await in_process(api, "bench.echo_bot", {"ECHO_AIOHTTP": "1"})
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def once(uid: int) -> None:
        waiter: asyncio.Future[float] = loop.create_future()
        api.chat_waiters[uid] = waiter
        started = time.monotonic()
        await api.send(User(uid), "hello")
        latencies.append((await asyncio.wait_for(waiter, 60) - started) * 1000)

    try:
        cpu = cpu_seconds(process.pid)
        for _ in range(rounds):
            ids = range(7_000_000, 7_000_000 + people)
            await asyncio.gather(*(once(uid) for uid in ids), asyncio.sleep(1.0))
        await quiet(api)
        return 1000 * (cpu_seconds(process.pid) - cpu) / len(latencies), latencies
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


def print_rows(label: str, rows: dict[str, Row], w: int, *yardsticks: dict[str, float]) -> None:
    """One line a phase; `yardsticks`: other bots' net ms by phase, for the ratios."""
    nets = net_ms(rows)
    for name, (cpu_ms, xacts, latencies, _) in rows.items():
        if name not in nets:  # idle
            print(f"{label + name:<{w}} {cpu_ms:>7.2f} {'':>7} {xacts:>6.2f}")
            continue
        net = nets[name]
        ratios = "".join(f" {net / y[name]:>6.1f}x" for y in yardsticks if name in y)
        print(
            f"{label + name:<{w}} {cpu_ms:>7.2f} {net:>7.2f} {xacts:>6.1f} "
            f"{statistics.median(latencies):>7.1f} {percentile(latencies, 0.95):>7.1f} "
            f"{len(latencies):>4}{ratios}"
        )


def net_ms(rows: dict[str, Row]) -> dict[str, float]:
    """Each phase's CPU ms less the bot's idle work over the same time (not the idle row)."""
    idle_ms = rows["idle, per second"][0]
    return {
        name: cpu_ms - idle_ms * seconds
        for name, (cpu_ms, _, latencies, seconds) in rows.items()
        if latencies
    }


async def main_async(people: int, count: int, rounds: int) -> None:
    api = BotApi(long_poll=60.0)  # as Telegram: a poll waits as long as the bot asks
    await api.start()
    try:
        echo_cpu, echo_latencies = await measure_echo(api, people, rounds)
        comparable = await measure(api, people, count, rounds, bot="comparable")
        durable = await measure(api, people, count, rounds, bot="durable")
        qorgau = await measure(api, people, count, rounds)
    finally:
        await api.stop()
    w = max(len("comparable, Qorgau's calls, " + name) for name in qorgau)
    print(
        f"{'':<{w}} {'CPU ms':>7} {'net ms':>7} {'xacts':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'n':>4} {'/ comp.':>7} {'/ calls':>7}"
    )
    print(
        f"{'echo (ceiling)':<{w}} {echo_cpu:>7.2f} {'':>7} {0:>6} "
        f"{statistics.median(echo_latencies):>7.1f} {percentile(echo_latencies, 0.95):>7.1f} "
        f"{len(echo_latencies):>4}"
    )
    print_rows("comparable relay, ", comparable, w)
    print_rows("comparable, Qorgau's calls, ", durable, w, net_ms(comparable))
    print_rows("qorgau, ", qorgau, w, net_ms(comparable), net_ms(durable))
    print("CPU ms and transactions: the bot process, per relayed message (PostgreSQL counts).")
    print(
        "net ms: less the bot's idle work over the same time (the idle row per second times "
        "the seconds per message; person -> staff waits 3.1 s a message for the group's pace)."
    )
    print(
        "comparable relay: bench/relay_bot.py, one transaction each way and nothing kept for "
        "a crash; the issue's target (6 ms against such a bot's 5) is 1.2 times it. "
        "Qorgau's calls: the same bot with RELAY_DURABLE=1, making Qorgau's Bot API calls "
        "and about its round trips, written plainly (not its guarantees). / comp., / calls: "
        "net ms over that of the comparable bot, and of the bot making Qorgau's calls, in "
        "the phase. Each case's volunteer: 15 of the 90 answers are first answers, which "
        "take their case (more work in Qorgau, none in the others)."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--to-staff", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main_async(args.people, args.to_staff, args.rounds))


if __name__ == "__main__":
    main()
