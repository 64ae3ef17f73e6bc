"""Fault run: people report while the bot is killed with SIGKILL again and again and Telegram
fails 30 % of the calls (429, 500, connections cut before or after Telegram carried the
call out): the staff chat's calls, or with --everywhere every call the bot makes (the
people's screens and getUpdates too). A volunteer
answers every follow-up. Then it counts: every case a person was given a code for exists
once, its card reached the staff chat once, every follow-up was relayed once, and every
answer reached its person once.

    .venv/bin/python -m bench.faults [--people 60] [--kills 20] [--db sqlite|postgresql]
                                     [--everywhere]
    .venv/bin/python -m bench.faults --broadcast 3000 [--kills 20] [--db ...] [--everywhere]

With --broadcast N an admin sends an awareness message to N subscribers (BROADCAST_RATE 50)
while the bot is killed; it counts who received it, who twice, and who not at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.broadcast import add_subscribers
from bot.db import make_engine, make_sessionmaker
from bot.services.identity import Identity
from models import Broadcast, BroadcastDelivery, Case, OutboxMessage
from tests.botapi import DROP, DROP_AFTER, BotApi, Fault, User
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, database_for

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Qorgau-bench-key-8Vw3Nq6Zr1Kt9Hx4Lm2Pb7Yc"
PLAN = [
    "m:report",
    "i:safe:yes",
    "i:category:bullying",
    "i:follow:school",
    "i:affected:me",
    "i:age:30_59",
    "i:region:almaty",
    "i:describe:next",
    "i:answer:yes",
    "i:consent:agree",
    "i:summary:send",
]
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")
# A card's first line (after the "sent again" mark, when there is one): the code, then the kind.
CARD = re.compile(r"^(?:↻[^\n]*\n\n)?<b>([A-Z2-9]{4}-[A-Z2-9]{4})</b> · ")


def staff_texts(staff: list[dict[str, object]]) -> list[str]:
    return [str(m.get("text", "")) for m in staff]


class Bot:
    def __init__(self, api: BotApi, url: str, **settings: str) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.url,
            "SECRET_KEY": SECRET,
            "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
            "ADMIN_IDS": str(ADMIN_ID),
            "DATABASE_URL": url,
            "DEFAULT_LOCALE": "en",
            "WEBHOOK_URL": "",
            **settings,
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def kill(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)


async def person(api: BotApi, user_id: int, codes: dict[int, str]) -> None:
    """Taps through the report like a person: looks at the screen, presses what fits,
    presses again if nothing happens for a while (the bot may be down)."""
    user = User(user_id)
    await api.send(user, "/start")
    described = followed = False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        try:
            screen = api.screen(user_id)
        except AssertionError:
            continue
        text = screen.get("text", "")
        if screen["message_id"] in api.deleted[user_id]:
            continue
        sent = [
            m.get("text", "")
            for m in api.messages[user_id].values()
            if m["from"]["is_bot"] and "Sent." in m.get("text", "")
        ]
        found = CODE.search(sent[0]) if sent else None
        if found:
            codes[user_id] = found.group(0)
            if not followed:
                followed = True
                await api.send(user, f"follow-up from {user_id}")
            return
        data = {d for _, d in api.buttons(screen)}
        if "i:describe:next" in data and not described:
            described = True
            await api.send(user, f"story of {user_id}")
            continue
        choice = next((step for step in PLAN if step in data), None)
        if choice is None:
            await api.send(user, "/start")  # lost? start again, as a person would
            await asyncio.sleep(1)
            continue
        await api.press(user, screen, choice)
        seen = screen["message_id"], text
        waited = time.monotonic()
        while time.monotonic() - waited < 8:  # the bot may be down: give it time
            await asyncio.sleep(0.2)
            now = api.screen(user_id)
            if (now["message_id"], now.get("text", "")) != seen:
                break


FAULT_NAMES = {429: "429", 500: "500", DROP: "cut before", DROP_AFTER: "cut after"}


def flaky_calls(
    rng: random.Random, failures: Counter[str], *, everywhere: bool
) -> Callable[[str, dict[str, Any]], Fault | None]:
    """A Telegram that fails 30 % of the calls to the staff chat (or of all calls): 429 with
    retry_after, 500, or a connection cut before or after Telegram carried the call out;
    `failures` counts them by status."""

    def flaky(method: str, params: dict[str, Any]) -> Fault | None:
        if not everywhere and params.get("chat_id") != STAFF_CHAT_ID:
            return None
        if rng.random() > 0.3:
            return None
        fault = rng.choice(
            [
                Fault(429, "Too Many Requests: retry after 1", retry_after=1),
                Fault(500, "Internal Server Error"),
                Fault(DROP, ""),
                Fault(DROP_AFTER, ""),
            ]
        )
        failures[FAULT_NAMES[fault.status]] += 1
        return fault

    return flaky


FOLLOW_UP = re.compile(r"follow-up from (\d+)")


async def volunteer(api: BotApi, answered: set[int]) -> None:
    """Answers each person's follow-up once, replying to it in the staff chat (as a
    volunteer does; a copy marked "sent again" is not answered twice)."""
    admin = User(ADMIN_ID, first_name="Admin")
    while True:
        await asyncio.sleep(0.3)
        for message in list(api.messages[STAFF_CHAT_ID].values()):
            found = FOLLOW_UP.search(message.get("text", ""))
            if message["from"]["is_bot"] and found and int(found.group(1)) not in answered:
                user_id = int(found.group(1))
                answered.add(user_id)
                await api.send_in_group(
                    admin, STAFF_CHAT_ID, f"answer to {user_id}", reply_to=message
                )


def answers_to(api: BotApi, user_id: int) -> int:
    wanted = f"Helpline: answer to {user_id}"
    return sum(m.get("text") == wanted for m in api.messages[user_id].values())


async def run(people: int, kills: int, backend: str, everywhere: bool) -> None:
    api = BotApi()
    await api.start()
    rng = random.Random(11)
    failures = Counter[str]()
    api.fault_rule = flaky_calls(rng, failures, everywhere=everywhere)
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            bot = Bot(api, url)
            began = time.monotonic()
            await bot.start()
            codes: dict[int, str] = {}
            answered: set[int] = set()
            staff = asyncio.create_task(volunteer(api, answered))
            load = asyncio.gather(*(person(api, 8_000_000 + n, codes) for n in range(people)))
            for _ in range(kills):
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                await bot.kill()
                await bot.start()
            await load
            for _ in range(600):  # every follow-up reached the staff chat and was answered
                if set(codes) <= answered:
                    break
                await asyncio.sleep(0.5)
            staff.cancel()
            # Let the outbox drain, then stop cleanly and count.
            engine = make_engine(url)
            sessions = make_sessionmaker(engine)
            for _ in range(240):
                await asyncio.sleep(0.5)
                async with sessions() as session:
                    pending = (
                        await session.scalars(
                            select(OutboxMessage.id).where(OutboxMessage.status == "pending")
                        )
                    ).all()
                if not pending and not api._updates:  # every update confirmed, nothing owed
                    break
            await bot.stop()
            async with sessions() as session:
                cases = (await session.scalars(select(Case))).all()
            await engine.dispose()
            identity = Identity(SECRET)
            per_person = Counter(c.person for c in cases)
            staff = list(api.messages[STAFF_CHAT_ID].values())
            card_heads = [m["text"] for m in staff if re.search(CARD, m.get("text", ""))]
            cards = Counter(re.search(CARD, text).group(1) for text in card_heads)  # type: ignore[union-attr]
            marked = sum(text.startswith("↻") for text in staff_texts(staff))
            # Whose follow-up each relayed message is (a copy may carry a ping the first lacks).
            follow_ups = Counter(
                int(found.group(1))
                for m in staff
                if (found := FOLLOW_UP.search(m.get("text", ""))) and m["from"]["is_bot"]
            )
            # Copies the staff could take for new ones: a second copy without the mark.
            unmarked = Counter(
                found.group(1)
                for text in staff_texts(staff)
                if not text.startswith("↻")
                and (found := re.search(CARD, text) or FOLLOW_UP.search(text))
            )
            lost_cases = [c for c in codes.values() if c not in {x.code for x in cases}]
            lost_cards = [c.code for c in cases if cards[c.code] == 0]
            print(f"database              {backend}")
            print(f"people                {people}, got a code: {len(codes)}")
            print(f"kill -9               {kills} times")
            print(f"took                  {time.monotonic() - began:.0f} s")
            print(
                f"{'all' if everywhere else 'staff'} calls failed {sum(failures.values())} "
                f"({', '.join(f'{name}: {n}' for name, n in sorted(failures.items()))})"
            )
            print(
                f"cases stored          {len(cases)}; lost: {len(lost_cases)}; "
                f"people with more than one: {sum(n > 1 for n in per_person.values())}"
            )
            print(
                f"cards in staff chat   {sum(cards.values())}; missing: {len(lost_cards)}; "
                f"duplicated: {sum(n > 1 for n in cards.values())}"
            )
            print(
                f"marked as sent again  {marked} (an earlier try may have arrived); "
                f"copies without the mark: {sum(n - 1 for n in unmarked.values() if n > 1)}"
            )
            print(
                f"follow-ups relayed    {sum(follow_ups.values())} of {len(codes)}; "
                f"duplicated: {sum(n > 1 for n in follow_ups.values())}"
            )
            answers = {user_id: answers_to(api, user_id) for user_id in answered}
            print(
                f"answers to people     {sum(n > 0 for n in answers.values())} of "
                f"{len(answered)} reached; lost: {sum(n == 0 for n in answers.values())}; "
                f"duplicated: {sum(n > 1 for n in answers.values())}"
            )
            assert all(identity.pseudonym(u) in per_person for u in codes)
            for user_id in codes:
                if not follow_ups[user_id] and os.environ.get("BENCH_DEBUG"):
                    chat = sorted(api.messages[user_id].values(), key=lambda m: m["message_id"])
                    print("missing follow-up", user_id, [m.get("text", "")[:40] for m in chat[-4:]])
    await api.stop()


BROADCAST_TEXT = "Awareness under faults"
FIRST_SUBSCRIBER = 9_000_000


async def showing(api: BotApi, user: User, data: str, timeout: float = 30) -> dict[str, Any]:
    """The screen once it has the button with this callback data."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError):
            screen = api.screen(user.id)
            if data in {d for _, d in api.buttons(screen)}:
                return screen
        await asyncio.sleep(0.1)
    raise AssertionError(f"no button {data}")


async def broadcast_run(subscribers: int, kills: int, backend: str, everywhere: bool) -> None:
    api = BotApi()
    await api.start()
    rng = random.Random(12)
    failures = Counter[str]()
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            bot = Bot(api, url, BROADCAST_RATE="50")
            await bot.start()
            await api.wait_for(lambda c: c.method == "deleteWebhook", timeout=60)  # migrated
            engine = make_engine(url)
            await add_subscribers(engine, Identity(SECRET), FIRST_SUBSCRIBER, subscribers)
            await engine.dispose()
            admin = User(ADMIN_ID, first_name="Admin")
            await api.send(admin, "/broadcast")
            await asyncio.sleep(1)
            await api.send(admin, BROADCAST_TEXT)
            await api.press(admin, await showing(api, admin, "bc:preview"), "bc:preview")
            confirm = await showing(api, admin, "bc:send")
            if everywhere:
                api.fault_rule = flaky_calls(rng, failures, everywhere=True)
            began = time.monotonic()
            await api.press(admin, confirm, "bc:send")
            for _ in range(kills):
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                await bot.kill()
                await bot.start()
            engine = make_engine(url)
            # Rows caught mid-send wait out their grace (2 min) before they count as unknown.
            for _ in range(600):
                async with engine.connect() as connection:
                    status = await connection.scalar(select(Broadcast.status))
                if status == "done":
                    break
                await asyncio.sleep(1)
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        select(BroadcastDelivery.status, func.count()).group_by(
                            BroadcastDelivery.status
                        )
                    )
                ).all()
            await engine.dispose()
            took = time.monotonic() - began
            await bot.stop()
            # What Telegram took and shows (a failed call is not a delivery).
            received = {
                user_id: sum(m.get("text") == BROADCAST_TEXT for m in chat.values())
                for user_id, chat in api.messages.items()
                if user_id >= FIRST_SUBSCRIBER
            }
            print(f"database              {backend}")
            print(f"subscribers           {subscribers}, BROADCAST_RATE 50")
            print(f"kill -9               {kills} times; broadcast {status} after {took:.0f} s")
            if everywhere:
                print(
                    f"calls failed          {sum(failures.values())} "
                    f"({', '.join(f'{name}: {n}' for name, n in sorted(failures.items()))})"
                )
            print(f"recorded              {dict(rows)}")
            got = sum(n > 0 for n in received.values())
            print(
                f"received              {got} people; twice or more: "
                f"{sum(n > 1 for n in received.values())}; never: {subscribers - got}"
            )
    await api.stop()


def main() -> None:
    import logging

    # The stand-in complains each time a killed bot drops its connection: expected here.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--everywhere", action="store_true", help="fail 30 %% of all calls")
    parser.add_argument("--broadcast", type=int, metavar="N", help="a broadcast to N people")
    args = parser.parse_args()
    if args.broadcast:
        asyncio.run(broadcast_run(args.broadcast, args.kills, args.db, args.everywhere))
    else:
        asyncio.run(run(args.people, args.kills, args.db, args.everywhere))


if __name__ == "__main__":
    main()
