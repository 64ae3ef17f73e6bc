"""Updates of one chat in order, different chats concurrently (no lost or reordered step)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot import polling
from tests.flows import AFTER_DESCRIPTION, REPORT, cases, tap_all
from tests.harness import Harness


async def test_each_chat_keeps_its_order_while_chats_run_together(harness: Harness) -> None:
    people = [harness.person(1200 + i) for i in range(12)]

    async def to_description(person) -> None:  # type: ignore[no-untyped-def]
        await person.send("/start")
        await tap_all(person, REPORT)

    await asyncio.gather(*(to_description(p) for p in people))
    # Everyone writes ten parts at once, interleaved, without waiting for answers.
    for part in range(10):
        for person in people:
            await harness.api.send(person.user, f"part {part}")
            harness.pushed(harness.api._updates[-1]["update_id"])
    await harness.settle(timeout=60)
    for person in people:
        await tap_all(person, [*AFTER_DESCRIPTION, "Send"])
    stored = await cases(harness)
    assert len(stored) == len(people)
    expected = "\n".join(f"part {n}" for n in range(10))
    assert all(case.description == expected for case in stored)


async def test_an_update_seen_twice_is_relayed_once(harness: Harness) -> None:
    """After a crash Telegram hands out updates the bot handled but did not confirm."""
    from tests.conftest import ADMIN_ID
    from tests.flows import report

    person = harness.person(1300)
    code = await report(person)
    follow_up = await person.send("it happened again")
    harness.pushed(await harness.api.push_raw({"message": follow_up}))  # the same message
    await harness.settle()
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    card = admin.card(code)
    answer = await admin.write_in_staff_chat("We read you", reply_to=card)
    harness.pushed(await harness.api.push_raw({"message": answer}))
    await harness.settle()
    await harness.until(harness.outbox_empty)
    staff_chat = harness.api.messages[admin.staff_chat].values()
    assert sum("it happened again" in m.get("text", "") for m in staff_chat) == 1
    answers = [m for m in person.bot_messages() if m.get("text") == "Helpline: We read you"]
    assert len(answers) == 1


async def test_a_description_seen_twice_is_kept_once(harness: Harness) -> None:
    person = harness.person(1301)
    await person.send("/start")
    await tap_all(person, REPORT)
    message = await person.send("He took my phone.")
    harness.pushed(await harness.api.push_raw({"message": message}))  # replayed
    await harness.settle()
    await tap_all(person, [*AFTER_DESCRIPTION, "Send"])
    [case] = await cases(harness)
    assert case.description == "He took my phone."


async def test_an_update_that_ends_while_a_poll_is_out_is_noticed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While an update is in flight, Telegram answers every poll at once with it again, so
    polling waits for an update to end before it asks again. One that ended while the poll
    was on its way went unnoticed: the next person waited the whole pause (IN_FLIGHT_POLL_
    SECONDS; 200 ms, the answers' p95 went from 18 to 150 ms in a burst). Made long here so
    that a miss shows."""
    monkeypatch.setattr(polling, "IN_FLIGHT_POLL_SECONDS", 30.0)
    api = harness.api
    api.poll_delay = 1.0  # every poll is on its way this long (a slow network)
    first, second = harness.person(1400), harness.person(1401)
    await first.send("/start")
    ended, started = time.monotonic(), api.polls[-1][1][-1]  # (the poll that brought it)

    async def brought_back_after_it_ended() -> bool:
        return any(at > ended and ids == [started] for at, ids in api.polls)

    await harness.until(brought_back_after_it_ended)
    await second.send("/start")  # handled within settle's 5 s, not after 30
    assert second.text.startswith("If you or someone else is in danger now, call:")
