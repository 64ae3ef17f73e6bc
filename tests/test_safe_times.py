"""Safe times for answers (issue 13): an answer outside the hours the person chose waits in
the outbox (pending, not failed) and arrives when the window opens, without a sound if the
person asked for that."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.settings import Settings
from models import Case, OutboxMessage
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import report
from tests.harness import Harness
from tests.test_person_side import to_chat, transcript


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


async def test_an_answer_waits_for_the_window_and_arrives_without_sound(
    harness: Harness,
) -> None:
    person = harness.person(1701, first_name="Aigerim")
    code = await report(person, description="He hits me at home")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    assert harness.app is not None
    services = harness.app.services
    outbox = services.outbox
    # A window of one hour that starts two hours from now (local time), without a sound.
    hour = outbox.clock().astimezone(outbox.zone).hour
    start, end = (hour + 2) % 24, (hour + 3) % 24
    async with services.sessions.begin() as session:
        await session.execute(
            update(Case)
            .where(Case.code == code)
            .values(answer_from=start, answer_until=end, answer_silent=True)
        )
    await admin.press(admin.card(code), "Take")  # the card is drawn again: the window shows
    line = f"🕘 Answers reach them only {start}:00–{end}:00 · without sound"
    assert line in admin.card(code)["text"]

    before = len(harness.api.calls)
    await admin.write_in_staff_chat("We are here. Are you safe now?", reply_to=admin.card(code))
    # A later piece of work of the sender (another person's card) shows it went past the
    # answer outside the window: nothing reached the chat.
    other = harness.person(1702)
    other_code = await report(other, description="My neighbour shouts at his children")
    await harness.api.wait_for(
        lambda c: c.method == "sendMessage" and f"<b>{other_code}</b>" in c.params["text"],
        after=before,
    )
    assert not any(
        c.method == "sendMessage" and c.params.get("chat_id") == person.user.id
        for c in harness.api.calls[before:]
    ), "an answer reached the person outside their hours"
    async with services.sessions() as session:
        waiting = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "to_person", OutboxMessage.status == "pending"
                )
            )
        ).all()
    assert len(waiting) == 1, "the answer waits: not dropped, not failed"

    # Two hours later the window is open: the answer arrives, without a sound.
    now = outbox.clock()
    outbox.clock = lambda: now + timedelta(hours=2)
    answer = await harness.api.wait_for(
        to_chat(person.user.id, "Helpline: We are here."), after=before
    )
    assert answer.params.get("disable_notification") is True
    print("\n--- person", *transcript(harness, person.user.id), sep="\n")
    print("--- staff card", admin.card(code)["text"], sep="\n")


async def test_a_window_past_midnight_and_no_window(harness: Harness) -> None:
    """22-7 holds at 12 and lets through at 23 and at 3; no window lets through always."""
    assert harness.app is not None
    outbox = harness.app.services.outbox
    person = harness.person(1703)
    code = await report(person)
    await harness.until(harness.outbox_empty)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.press(admin.card(code), "Take")
    base = outbox.clock().astimezone(outbox.zone).replace(hour=12, minute=0)
    outbox.clock = lambda: base
    async with harness.app.services.sessions.begin() as session:
        await session.execute(
            update(Case).where(Case.code == code).values(answer_from=22, answer_until=7)
        )
    before = len(harness.api.calls)
    await admin.write_in_staff_chat("First answer.", reply_to=admin.card(code))
    async with harness.app.services.sessions() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "to_person"))
        assert row is not None and row.status == "pending"
    assert await outbox.next_due() is None  # nothing else due: the sender is not woken for it
    outbox.clock = lambda: base.replace(hour=3)
    first = await harness.api.wait_for(to_chat(person.user.id, "Helpline: First"), after=before)
    assert not first.params.get("disable_notification")


async def test_mycases_changes_the_window(harness: Harness) -> None:
    person = harness.person(1704)
    code = await report(person)
    await harness.until(harness.outbox_empty)
    await person.send("/mycases")
    await person.tap(f"Answer times {code}")
    await person.tap("Only 18:00–22:00")
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        assert (case.answer_from, case.answer_until, case.answer_silent) == (18, 22, False)
    await person.tap(f"Answer times {code}")
    await person.tap("Any time, without sound")
    async with harness.app.services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        assert (case.answer_from, case.answer_until, case.answer_silent) == (None, None, True)
    # The card is drawn again with the person's choice.
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    assert "🕘 Answers without sound" in admin.card(code)["text"]
