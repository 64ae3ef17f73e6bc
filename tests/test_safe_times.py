"""Safe times for answers (issue 13): an answer outside the hours the person chose waits in
the outbox (pending, not failed) and arrives when the window opens, without a sound if the
person asked for that."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.services.outbox import ANSWERS_AFTER_WRITING, Outbox
from bot.settings import Settings
from handlers.callbacks import IntakeButton
from models import Case, OutboxMessage
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import REPORT, cases, code_on_screen, report, tap_all, tr
from tests.harness import Harness, Person, Volunteer
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


async def test_the_choice_at_sending_is_kept_and_shown_on_the_card(harness: Harness) -> None:
    """On the summary, "Send" alone means any time; the answer times chosen there come back
    to the summary, are stored with the case and shown to staff on its card."""
    person = harness.person(1705)
    await person.send("/start")
    await tap_all(person, [*REPORT, "Skip", "Yes, answer me here", "I agree"])
    await person.tap("When answers may come")
    assert "✓ Any time" in person.buttons  # the default, if they choose nothing
    assert "answers wait until you write to us here" in person.text
    await person.tap("Only after I write first")
    assert "Answers: Only after I write first" in person.text  # back on the summary
    await person.tap("Send")
    assert "As you asked, answers will wait until you write to us here." in person.text
    code = code_on_screen(person.text)
    assert code is not None
    hours = await report(harness.person(1706), answers="Only 9:00–13:00")
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        after = await session.scalar(select(Case).where(Case.code == code))
        nine = await session.scalar(select(Case).where(Case.code == hours))
    assert after is not None and nine is not None
    assert after.answer_after_writing and (after.answer_from, after.answer_until) == (None, None)
    assert not nine.answer_after_writing and (nine.answer_from, nine.answer_until) == (9, 13)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    assert "🕘 Answers only after the person writes" in admin.card(code)["text"]
    assert "🕘 Answers reach them only 9:00–13:00" in admin.card(hours)["text"]


async def pending_answers(harness: Harness) -> int:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.kind == "to_person", OutboxMessage.status == "pending"
            )
        )
        return len(rows.all())


def nothing_due(outbox: Outbox) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await outbox.next_due() is None

    return check


async def answer_waits(
    harness: Harness, admin: Volunteer, code: str, person: Person, text: str, when: str
) -> int:
    """The volunteer answers; nothing is due any more (an answer let through would be due
    until it is sent), the answer was not sent and it waits: not dropped, not failed.
    Returns where the calls stood before the answer."""
    outbox = harness.app.services.outbox if harness.app is not None else None
    assert outbox is not None
    before = len(harness.api.calls)
    await admin.write_in_staff_chat(text, reply_to=admin.card(code))
    await harness.until(nothing_due(outbox))
    assert not any(
        c.method == "sendMessage" and c.params.get("chat_id") == person.user.id
        for c in harness.api.calls[before:]
    ), f"an answer reached the person {when}"
    assert await pending_answers(harness) == 1, "the answer waits: not dropped, not failed"
    return before


async def test_answers_wait_until_the_person_writes_first(harness: Harness) -> None:
    """An answer waits while the person has not written; it arrives (without a sound, as
    they asked) once they write; ANSWERS_AFTER_WRITING later the next one waits again."""
    assert harness.app is not None
    services = harness.app.services
    outbox = services.outbox
    person = harness.person(1707)
    code = await report(person, answers="Only after I write first")
    async with services.sessions.begin() as session:  # and without a sound
        await session.execute(update(Case).where(Case.code == code).values(answer_silent=True))
    await harness.until(harness.outbox_empty)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.press(admin.card(code), "Take")
    before = await answer_waits(
        harness, admin, code, person, "We read your message.", "before they wrote"
    )

    await person.send("I can talk now")  # the person writes: what waited goes out
    answer = await harness.api.wait_for(
        to_chat(person.user.id, "Helpline: We read your message."), after=before
    )
    assert answer.params.get("disable_notification") is True

    async def none_pending() -> bool:  # its "sent" is written just after it went
        return await pending_answers(harness) == 0

    await harness.until(none_pending)  # (before the clock moves: it would hide it)
    # Past the period after their message, the next answer waits again.
    now = outbox.clock()
    outbox.clock = lambda: now + ANSWERS_AFTER_WRITING + timedelta(minutes=1)
    before = await answer_waits(
        harness, admin, code, person, "Are you still there?", "long after they last wrote"
    )
    await person.send("Yes")
    await harness.api.wait_for(to_chat(person.user.id, "Helpline: Are you still"), after=before)


CHILD_REPORT = [*REPORT[:5], "Under 14", "Shymkent", "Skip"]


@pytest.mark.parametrize(
    ("locale", "question", "after", "saved"),
    [
        ("ru", "Когда тебе можно писать?", "пока ты не напишешь", "по твоему выбору"),
        ("kk", "Саған қашан жазуға болады?", "сен осында жазғанша", "сен таңдағандай"),
    ],
)
async def test_a_child_is_spoken_to_as_a_child_on_the_answer_times(
    harness: Harness, locale: str, question: str, after: str, saved: str
) -> None:
    person = harness.person(1710, language_code=locale)
    await person.send("/start")
    await tap_all(person, [*CHILD_REPORT, "Yes, answer me here", "I agree"], locale)
    await person.tap(tr(locale, "When answers may come"))
    assert question in person.text and after in person.text, person.text
    await person.tap(tr(locale, "Only after I write first"))
    await person.tap(tr(locale, "Send"))
    code = code_on_screen(person.text)
    assert code is not None
    await person.send("/mycases")
    await person.tap(tr(locale, "Answer times {code}").format(code=code))
    assert question in person.text and after in person.text, person.text
    assert "✓ " + tr(locale, "Only after I write first") in person.buttons
    await person.tap(tr(locale, "Any time"))
    assert saved in person.text, person.text


async def test_no_answer_times_for_a_child_who_asked_for_no_answer(harness: Harness) -> None:
    """A child who chose "No, just record it" is promised no answer: no times to choose."""
    person = harness.person(1711)
    await person.send("/start")
    await tap_all(person, [*CHILD_REPORT, "Yes, answer me here", "I agree"])
    assert "When answers may come" in person.buttons  # offered when an answer is expected
    await person.tap("Change")
    await person.tap("Answer here")
    await person.tap("No, just record it")
    assert person.text.startswith("Check what you wrote:")
    assert "When answers may come" not in person.buttons
    # A choice made before, or an old button pressed now, is not kept either.
    await person.press_data(IntakeButton("summary", "window", "after").data)
    await person.tap("Send")
    assert person.text.startswith("Saved! Your code:")
    [case] = await cases(harness)
    assert not case.may_answer and not case.answer_after_writing


async def test_forget_erases_when_the_person_last_wrote(harness: Harness) -> None:
    """The time the person last wrote is kept only for "only after I write first", and goes
    with the link to them."""
    person = harness.person(1712)
    code = await report(person, answers="Only after I write first")
    await person.send("Hello again")
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.code == code))
        assert case is not None and case.person_wrote_at is not None
    await person.send("/forget")
    await person.tap("Yes, erase")
    async with harness.app.services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.code == code))
        assert case is not None and case.person is None and case.person_wrote_at is None
