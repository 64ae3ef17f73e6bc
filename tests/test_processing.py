"""Updates of one chat in order, different chats concurrently (no lost or reordered step)."""

from __future__ import annotations

import asyncio

import pytest

from bot import polling
from tests.botapi import Fault
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
    that a miss shows. Two people write at once (one poll brings both); the first's update
    ends, the bot asks again, and the second's ends while that poll is on its way."""
    monkeypatch.setattr(polling, "IN_FLIGHT_POLL_SECONDS", 30.0)
    api = harness.api
    api.poll_delay = 1.0  # every poll is on its way this long (a slow network)
    first, second, third = harness.person(1400), harness.person(1401), harness.person(1402)

    def second_answered_slowly(method: str, params: dict[str, object]) -> Fault | None:
        """The second's answer takes half a second (then goes through)."""
        if method == "sendMessage" and params.get("chat_id") == second.user.id:
            return Fault(0, "", delay=0.5)
        return None

    api.fault_rule = second_answered_slowly
    await api.send(first.user, "/start")
    await api.send(second.user, "/start")

    async def brought_back_after_it_ended() -> bool:
        """A poll brought the second's update alone after its answer went out (it was
        brought first with the first's)."""
        both = next((ids for _, ids in api.polls if len(ids) == 2), None)
        answered = [c.at for c in api.calls if c.params.get("chat_id") == second.user.id]
        return both is not None and any(
            answered and at > answered[0] + 0.5 and ids == both[1:] for at, ids in api.polls
        )

    await harness.until(brought_back_after_it_ended)
    api.fault_rule = None
    await third.send("/start")  # handled within settle's 5 s, not after 30
    assert third.text.startswith("If you or someone else is in danger now, call:")
