"""Answers soak: volunteers answer people for minutes on end, and every answer must reach its
person. Prints each answer that has not arrived after 40 s, with the outbox's pending rows
(PostgreSQL, polling). Not a test.

Found on 2026-11-25 (issue 12's note): about one answer in 1,000-4,500 stayed pending, not
leased and not held, with nothing ahead of it in its case, while the sender went on
delivering the others; 40 s and more later it had not been tried. Fixed the same day (a
stale "nothing due" wiped the news of it: Sender._clear); 0 of 27,000 since.

    .venv/bin/python -m bench.answers_soak [--seconds 360]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.relay import STAFF_CHAT, bot_env, staff_ready, to_staff
from bench.throughput import in_process
from tests.botapi import BotApi, User
from tests.conftest import ADMIN_ID, database_for

PEOPLE, VOLUNTEERS, LATE = 20, 15, 40.0


async def pending_rows(url: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await connection.fetch(
            "SELECT id, case_id, kind, due_at, lease_until, sending_since FROM outbox "
            "WHERE status = 'pending' ORDER BY id"
        )
    finally:
        await connection.close()
    return [dict(row) for row in rows]


def copies(api: BotApi, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each person's first message as the staff chat shows it (answers reply to it)."""
    relayed: dict[int, dict[str, Any]] = {}
    for message in api.messages[STAFF_CHAT].values():
        found = re.search(r"follow-up-(\d+)", str(message.get("text", "")))
        if found:
            relayed.setdefault(ids[int(found.group(1)) % PEOPLE], message)
    return relayed


async def soak(api: BotApi, url: str, seconds: float) -> None:
    ids = [6_000_000 + n for n in range(PEOPLE)]
    staff = await staff_ready(api, ids, VOLUNTEERS)
    await to_staff(api, ids, VOLUNTEERS)
    relayed = copies(api, ids)
    owner = {uid: staff[ids.index(uid) % VOLUNTEERS] for uid in relayed}
    spread, rounds, late = random.Random(7), 0, 0
    took: list[float] = []  # from the volunteer's message to the person's copy
    deadline = time.monotonic() + seconds

    async def answer(uid: int, copy: dict[str, Any], text: str, mode: str) -> None:
        nonlocal late
        if mode != "burst":
            await asyncio.sleep(spread.random())
        volunteer = owner[uid] if mode != "admin" else User(ADMIN_ID)
        started = time.monotonic()
        await api.send_in_group(volunteer, STAFF_CHAT, text, reply_to=copy)
        while not any(text in str(m.get("text", "")) for m in api.messages[uid].values()):
            if time.monotonic() - started > LATE:
                late += 1
                print(f"not arrived after {LATE:.0f} s: {text!r} to {uid}", flush=True)
                for row in await pending_rows(url):
                    print("  pending:", row, flush=True)
                return
            await asyncio.sleep(0.05)
        took.append(time.monotonic() - started)

    while time.monotonic() < deadline:
        for mode in ("volunteer", "burst", "admin"):
            for _ in range(6):
                rounds += 1
                await asyncio.gather(
                    *(answer(u, c, f"answer {rounds} {mode}", mode) for u, c in relayed.items()),
                    asyncio.sleep(1.0),
                )
    print(f"{rounds} rounds, {rounds * len(relayed)} answers, {late} not arrived in {LATE:.0f} s")
    took.sort()
    if took:
        p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
        median, most = took[len(took) // 2], took[-1]
        print(f"arrived: median {median:.2f} s, p99 {p99:.2f} s, max {most:.2f} s")


async def main_async(seconds: float) -> None:
    api = BotApi(long_poll=60.0)
    await api.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async for url in database_for("postgresql", Path(tmp)):
                process = await in_process(api, "bot", bot_env(url))
                try:
                    await soak(api, url, seconds)
                finally:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 30)
    finally:
        await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=360.0)
    asyncio.run(main_async(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
