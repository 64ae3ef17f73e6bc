"""Starvation benchmark: one person floods their open request with follow-ups while 50 others
send a report. Prints, for the 50, the time from pressing "Send" to their card in the staff
chat (p50, p95, max), and how many got there within the limit. Not a test: it prints numbers.

The stand-in keeps Telegram's flood limits (20 messages a minute in the staff group), so no
order of delivery gets all 1,050 messages there quickly: what counts is who waits.

    .venv/bin/python -m bench.starvation [--flood 1000] [--people 50] [--limit 300]
                                         [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.broadcast import percentile
from tests.botapi import BotApi
from tests.conftest import database_for, make_settings
from tests.flows import AFTER_DESCRIPTION, REPORT, code_on_screen, report, tap_all, tr
from tests.harness import Harness, Person


async def to_send_button(person: Person) -> dict[str, object]:
    """A whole report up to its last screen; returns the message with the Send button."""
    await person.send("/start")
    await tap_all(person, [*REPORT, "Skip", *AFTER_DESCRIPTION[1:]])
    return person.screen


def card_shown(api: BotApi, chat: int, code: str) -> bool:
    return any(
        str(m.get("text", "")).startswith(f"<b>{code}</b>") for m in api.messages[chat].values()
    )


async def run(flood: int, people: int, limit: float, backend: str) -> None:
    api = BotApi()
    await api.start()
    with tempfile.TemporaryDirectory() as tmp:
        async for url in database_for(backend, Path(tmp)):
            h = Harness(api, make_settings(api, url, default_locale="en"))
            await h.start()
            try:
                await measure(h, api, flood, people, limit)
            finally:
                await h.stop()
    await api.stop()


async def measure(h: Harness, api: BotApi, flood: int, people: int, limit: float) -> None:
    flooder = h.person(7_000)
    await report(flooder, description=None)
    waiting = [h.person(7_001 + n) for n in range(people)]
    screens = [await to_send_button(p) for p in waiting]
    for n in range(flood):
        await api.send(flooder.user, f"follow-up {n}")
    pressed: dict[int, float] = {}
    for person, screen in zip(waiting, screens, strict=True):
        send = next(d for t, d in api.buttons(screen) if t == tr("en", "Send"))
        await api.press(person.user, screen, send)
        pressed[person.user.id] = time.monotonic()
    latencies: list[float] = []
    screens_at: list[float] = []  # Send -> the "Sent" screen with the code (the update handled)
    staff = h.settings.staff_chat_id
    pending = {p.user.id: p for p in waiting}
    deadline = time.monotonic() + limit
    seen: set[int] = set()
    while pending and time.monotonic() < deadline:
        for user_id, person in list(pending.items()):
            code = code_on_screen(str(person.bot_messages()[-1].get("text", "")))
            if code and user_id not in seen:
                seen.add(user_id)
                screens_at.append(time.monotonic() - pressed[user_id])
            if code and card_shown(api, staff, code):
                latencies.append(time.monotonic() - pressed.pop(user_id))
                del pending[user_id]
        await asyncio.sleep(0.05)
    if screens_at:
        print(
            f"Send -> 'Sent' screen: p50 {percentile(screens_at, 0.5):.1f} s, "
            f"p95 {percentile(screens_at, 0.95):.1f} s"
        )
    relayed = sum("follow-up" in str(m.get("text", "")) for m in api.messages[staff].values())
    print(f"flood {flood} follow-ups, {people} reports, limit {limit:.0f} s")
    print(f"cards within the limit: {len(latencies)} of {people}")
    if latencies:
        print(
            f"Send -> card: p50 {percentile(latencies, 0.5):.1f} s, "
            f"p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s"
            + ("" if not pending else f" (and {len(pending)} over {limit:.0f} s)")
        )
    refused = api.flood.refused if api.flood else 0
    print(f"follow-ups in the staff chat by then: {relayed}; 429s given: {refused}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, default=1000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--limit", type=float, default=300)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    asyncio.run(run(args.flood, args.people, args.limit, args.db))


if __name__ == "__main__":
    main()
