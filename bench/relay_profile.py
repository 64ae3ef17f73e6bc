"""Where a relayed message's CPU goes, by layer: the runs of `bench.relay` (person -> staff at
the staff group's pace, then staff -> person, each case its volunteer), with py-spy sampling
the bot process 1,000 times a second while the messages go. Prints, for each direction, the
CPU per message and its share in each layer (the deepest frame of each sample that belongs
to a library or to the bot decides: SQLAlchemy, asyncpg, aiohttp, python-telegram-bot,
the bot's own code with the standard library it calls, and the event loop). Not a test.

    .venv/bin/python -m bench.relay_profile [--to-staff 40] [--rounds 6] [--keep DIR] [--durable]

`--durable` samples the comparable bot that makes Qorgau's Bot API calls and round trips
(`bench/relay_bot.py` with RELAY_DURABLE=1) instead, for a layer-by-layer comparison: what
Qorgau spends beyond the calls themselves (about 5 minutes). For Qorgau about 9 minutes (it
waits, as bench.relay does, for the bot's first sweeps). py-spy reads the bot's memory from
outside (ptrace): in a container it needs the SYS_PTRACE capability. `--keep DIR` keeps the
raw samples (py-spy's "raw" format: one stack a line, with its count) for a closer look.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench.relay import start_comparable, start_qorgau, to_people, to_staff
from bench.throughput import cpu_seconds, quiet
from tests.botapi import BotApi
from tests.conftest import database_for

SAMPLES_PER_SECOND = 1000
# A sample goes to the deepest frame of its stack that is one of these (first match wins).
# (py-spy names a library's file from its package: "(sqlalchemy/orm/session.py:2555)".)
LIBRARIES = (
    ("SQLAlchemy", ("(sqlalchemy/", "(greenlet/")),
    ("asyncpg (with its socket writes)", ("(asyncpg/",)),
    ("aiohttp (HTTP client)", ("(aiohttp/", "(yarl/", "(multidict/")),
    ("python-telegram-bot", ("(telegram/",)),
)
OURS = re.compile(r"\((?:bot|handlers|models|bench)/")
# Frames that only start the event loop (Qorgau's, and PTB's run_polling for the comparable
# bots): what runs right under them is the loop.
LOOP_ONLY = (
    "main (bot/cli.py",
    "<module> (bot/__main__.py",
    "main (bench/relay_bot.py",
    "<module> (bench/relay_bot.py",
    "Application.run_polling (telegram/",
    "Application.__run (telegram/",
)
LOOP = "event loop (asyncio, epoll, sockets)"
OWN = "the bot's own code (and the stdlib it calls)"


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        if any(mark in frame for mark in LOOP_ONLY):
            continue
        for name, marks in LIBRARIES:
            if any(mark in frame for mark in marks):
                return name
        if OURS.search(frame):
            return OWN
    return LOOP


def by_layer(raw: Path) -> dict[str, int]:
    """Samples per layer in py-spy's raw output ("frame;frame;... count" lines)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():  # (a sample with no Python frame has an empty stack: the loop's)
            counts[layer_of(stack.split(";"))] += int(count)
    return dict(counts)


@asynccontextmanager
async def sampled(pid: int, raw: Path) -> AsyncIterator[None]:
    """py-spy records the process while the block runs; its samples are in `raw` after."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: make setup installs it")
    recorder = await asyncio.create_subprocess_exec(
        spy,
        *("record", "--pid", str(pid), "--rate", str(SAMPLES_PER_SECOND)),
        *("--format", "raw", "--output", str(raw), "--nonblocking"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert recorder.stdout is not None and recorder.stderr is not None
    # It says so once it samples; if it cannot, it ends and says why.
    said = (await asyncio.wait_for(recorder.stdout.readline(), 30)).decode()
    if "Sampling process" not in said:
        why = (await recorder.stderr.read()).decode().strip()
        raise SystemExit(f"py-spy could not sample the bot: {why or said.strip()}")
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        await asyncio.wait_for(recorder.wait(), 30)


async def profiled(
    api: BotApi, pid: int, raw: Path, run: Coroutine[Any, Any, list[float]]
) -> tuple[float, dict[str, int]]:
    """CPU ms per message of one direction, and the samples per layer meanwhile."""
    async with sampled(pid, raw):
        cpu = cpu_seconds(pid)
        latencies = await run
        await quiet(api)
        cpu_ms = 1000 * (cpu_seconds(pid) - cpu) / len(latencies)
    return cpu_ms, by_layer(raw)


def show(name: str, cpu_ms: float, layers: dict[str, int]) -> None:
    total = sum(layers.values()) or 1
    print(f"\n{name}: {cpu_ms:.2f} CPU ms a message ({total} samples)")
    for layer, samples in sorted(layers.items(), key=lambda item: -item[1]):
        share = samples / total
        print(f"  {layer:<46} {100 * share:5.1f} %  {share * cpu_ms:5.2f} ms")


async def main_async(count: int, rounds: int, keep: Path | None, durable: bool) -> None:
    api = BotApi(long_poll=60.0)  # as Telegram: a poll waits as long as the bot asks
    await api.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            samples = keep or Path(tmp)
            samples.mkdir(parents=True, exist_ok=True)
            async for url in database_for("postgresql", Path(tmp)):
                if durable:  # the comparable bot making Qorgau's calls
                    started = await start_comparable(api, url, 20, 15, durable=True)
                else:
                    started = await start_qorgau(api, url, 20, 15)
                process, people, staff, chat = started
                try:
                    raw = samples / "person-to-staff.txt"
                    run = to_staff(api, people, count, chat)
                    show("person -> staff", *await profiled(api, process.pid, raw, run))
                    raw = samples / "staff-to-person.txt"
                    run = to_people(api, staff, people[:15], rounds, 15, staff_chat=chat)
                    show("staff -> person", *await profiled(api, process.pid, raw, run))
                finally:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 30)
    finally:
        await api.stop()
    print(
        "\nCPU ms: the bot process, per message, its idle work included (the person -> staff "
        "messages wait 3.1 s each for the staff group's pace). A share is of py-spy's samples."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--to-staff", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument(
        "--durable",
        action="store_true",
        help="sample bench.relay_bot making Qorgau's calls (RELAY_DURABLE=1), not Qorgau",
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.to_staff, args.rounds, args.keep, args.durable))


if __name__ == "__main__":
    main()
