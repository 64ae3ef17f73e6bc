"""The person's side (issue 13): a quick exit holds everything meant for their chat until
they write again; the staff are told once; what waited then arrives without a sound."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.settings import Settings
from models import Draft, HeldChat, OutboxMessage
from tests.botapi import BotApi, Call
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, make_settings
from tests.flows import AFTER_DESCRIPTION, REPORT, broadcast, cases, code_on_screen, report, tap_all
from tests.harness import Harness

LEFT = "The person left in a hurry"


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


def transcript(harness: Harness, chat: int) -> list[str]:
    """The chat as its owner sees it now (for the report; printed with -s)."""
    messages = sorted(harness.api.messages[chat].values(), key=lambda m: m["message_id"])
    return [
        ("bot: " if m["from"]["is_bot"] else "them: ") + str(m.get("text") or m.get("caption"))
        for m in messages
    ]


def to_chat(chat: int, starts: str = "") -> Any:
    def match(call: Call) -> bool:
        return (
            call.method == "sendMessage"
            and call.params.get("chat_id") == chat
            and str(call.params.get("text", "")).startswith(starts)
        )

    return match


async def test_exit_holds_answers_until_the_person_writes_again(harness: Harness) -> None:
    person = harness.person(1301, first_name="Aigerim")
    code = await report(person, description="He hits me at home")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    await admin.press(admin.card(code), "Take")

    before = len(harness.api.calls)
    await person.tap("Exit and clear chat")
    assert harness.api.messages[person.user.id] == {}
    notice = await harness.api.wait_for(to_chat(STAFF_CHAT_ID, f"{code}: {LEFT}"), after=before)
    assert "held" in notice.params["text"]
    await harness.until(harness.outbox_empty)  # the notice only: nothing was held yet

    await admin.write_in_staff_chat("We are here. Are you safe now?", reply_to=admin.card(code))
    # A later piece of work of the sender (another person's card) shows it went past the
    # held answer: nothing reached the chat.
    other = harness.person(1302)
    other_code = await report(other, description="My neighbour shouts at his children")
    await harness.api.wait_for(
        lambda c: c.method == "sendMessage" and f"<b>{other_code}</b>" in c.params["text"],
        after=before,
    )
    assert harness.api.messages[person.user.id] == {}, "something reached the person's chat"
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        waiting = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "to_person", OutboxMessage.status == "pending"
                )
            )
        ).all()
    assert len(waiting) == 1, "the answer waits: not dropped, not failed"
    # Exiting again tells the staff nothing new (one notice until the person writes).
    await person.send("/start")
    answer = await harness.api.wait_for(
        to_chat(person.user.id, "Helpline: We are here."), after=before
    )
    assert answer.params.get("disable_notification") is True
    staff = transcript(harness, STAFF_CHAT_ID)
    assert sum(LEFT in line for line in staff) == 1
    async with harness.app.services.sessions() as session:
        assert (await session.scalars(select(HeldChat))).all() == []
    print("\n--- person", *transcript(harness, person.user.id), sep="\n")
    print("--- staff chat", *staff, sep="\n")

    # Written again: later answers go as usual (with a sound).
    after = len(harness.api.calls)
    await admin.write_in_staff_chat("Thank you for writing.", reply_to=admin.card(code))
    later = await harness.api.wait_for(to_chat(person.user.id, "Helpline: Thank you"), after=after)
    assert not later.params.get("disable_notification")


@pytest.mark.parametrize("again", ["/start", "I am safe now"])
async def test_an_answer_waiting_for_its_turn_is_held_by_an_exit(
    harness: Harness, again: str
) -> None:
    """An answer already on its way (claimed, waiting for the person's chat's pace of about
    one message a second) when the person leaves in a hurry: it does not reach the chat, it
    waits with the rest until they write again. It used to go out after the exit. Writing
    again: a command, or a message to their request (that one reads whether anything waits
    for them, and ends the hold only if so)."""
    person = harness.person(1306)
    code = await report(person, description="He hits me at home")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    await admin.press(admin.card(code), "Take")
    before = len(harness.api.calls)
    for n in range(6):  # the chat's burst, then one a second
        await admin.write_in_staff_chat(f"answer {n}", reply_to=admin.card(code))
    # The third has gone: the fourth waits about a second for the chat's pace.
    await harness.api.wait_for(to_chat(person.user.id, "Helpline: answer 2"), after=before)
    await person.tap("Exit and clear chat")
    assert harness.api.messages[person.user.id] == {}
    assert harness.app is not None

    def answers_sent() -> set[str]:
        return {
            str(c.params["text"])
            for c in harness.api.calls[before:]
            if to_chat(person.user.id, "Helpline: answer")(c)
        }

    async def the_rest_wait() -> bool:  # (or one got through: the assertion below says so)
        if harness.api.messages[person.user.id]:
            return True
        async with harness.app.services.sessions() as session:  # type: ignore[union-attr]
            waiting = (
                await session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.kind == "to_person",
                        OutboxMessage.status == "pending",
                        OutboxMessage.lease_until.is_(None),
                    )
                )
            ).all()
        return len(waiting) + len(answers_sent()) == 6

    await harness.until(the_rest_wait)
    assert harness.api.messages[person.user.id] == {}, "an answer reached the chat after exit"
    held = [
        f"Helpline: answer {n}" for n in range(6) if f"Helpline: answer {n}" not in answers_sent()
    ]
    assert held, "all six went before the exit: the test proves nothing"
    # They write again: what waited arrives, without a sound.
    after = len(harness.api.calls)
    await person.send(again)
    for text in held:
        answer = await harness.api.wait_for(to_chat(person.user.id, text), after=after, timeout=15)
        assert answer.params.get("disable_notification") is True


async def test_exit_twice_tells_the_staff_once(harness: Harness) -> None:
    person = harness.person(1303)
    code = await report(person)
    await harness.until(harness.outbox_empty)
    before = len(harness.api.calls)
    await person.tap("Exit and clear chat")
    await harness.api.wait_for(to_chat(STAFF_CHAT_ID, f"{code}: {LEFT}"), after=before)
    # Pressed again without writing in between (an old button on another device).
    assert harness.app is not None
    services = harness.app.services
    assert await services.outbox.hold(services.identity.pseudonym(person.user.id)) == []
    await harness.until(harness.outbox_empty)
    staff = transcript(harness, STAFF_CHAT_ID)
    assert sum(LEFT in line for line in staff) == 1


async def test_exit_without_a_case_stores_nothing(harness: Harness) -> None:
    person = harness.person(1304)
    await person.send("/start")
    await person.tap("Exit and clear chat")
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        assert (await session.scalars(select(HeldChat))).all() == []


async def test_a_broadcast_skips_a_chat_left_in_a_hurry(harness: Harness) -> None:
    person = harness.person(1305)
    await person.send("/start")
    await person.send("/subscribe")
    code = await report(person)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    await admin.press(admin.card(code), "Take")
    await admin.press(admin.card(code), "Close")
    await admin.press(admin.card(code), "Legal aid")
    await harness.until(harness.outbox_empty)  # the closing question reached them
    await person.tap("Exit and clear chat")
    assert harness.api.messages[person.user.id] == {}
    await broadcast(harness, "Know your rights: call 111.")  # done: every recipient handled
    assert harness.api.messages[person.user.id] == {}


async def test_a_broadcast_skips_a_subscriber_without_a_case_who_left_in_a_hurry(
    harness: Harness,
) -> None:
    """Someone who only subscribed is held too (they used to get the next broadcast); the
    hold ends when they write again."""
    person = harness.person(1307)
    await person.send("/start")
    await person.send("/subscribe")
    await person.tap("Exit and clear chat")
    assert harness.api.messages[person.user.id] == {}
    await broadcast(harness, "Know your rights: call 111.")
    assert harness.api.messages[person.user.id] == {}, "a broadcast reached a cleared chat"
    await person.send("/start")
    await broadcast(harness, "Free legal advice on Fridays.")
    assert person.text == "Free legal advice on Fridays."


async def test_a_message_after_closing_is_offered_and_reopens_the_same_case(
    harness: Harness,
) -> None:
    person = harness.person(1306)
    code = await report(person, description="He hits me at home")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    await admin.press(admin.card(code), "Take")
    await admin.press(admin.card(code), "Close")
    await admin.press(admin.card(code), "Legal aid")
    await harness.until(harness.outbox_empty)
    card = admin.card(code)

    await person.send("He came back last night")
    assert person.text.startswith(f"Your request {code} is closed. Send what you just wrote")
    assert f"Send to {code}" in person.buttons
    before = len(harness.api.calls)
    await person.tap(f"Send to {code}")
    assert person.text.startswith(f"Sent to your request {code}. It is open again")
    await harness.api.wait_for(
        to_chat(STAFF_CHAT_ID, f"{code}: The person wrote again"), after=before
    )
    relayed = await harness.api.wait_for(
        lambda c: c.method == "sendMessage" and "He came back last night" in c.params["text"],
        after=before,
    )
    assert relayed.params["reply_parameters"]["message_id"] == card["message_id"]  # same card
    [case] = [c for c in await cases(harness) if c.code == code]
    assert (case.status, case.closed_at, case.taken_by) == ("open", None, ADMIN_ID)
    card = admin.card(code)  # redrawn: open, taken, with its buttons
    assert "Closed" not in card["text"] and "Taken by" in card["text"]
    assert "Reply" in [label for label, _ in harness.api.buttons(card)]
    assert harness.app is not None
    assert "unsent" not in harness.app.user_data[person.user.id]  # kept until chosen only
    print("\n--- person", *transcript(harness, person.user.id), sep="\n")
    print("--- staff chat", *transcript(harness, STAFF_CHAT_ID), sep="\n")


async def test_a_message_after_closing_not_sent_is_not_kept(harness: Harness) -> None:
    person = harness.person(1307)
    code = await report(person)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    await admin.press(admin.card(code), "Close")
    await admin.press(admin.card(code), "Legal aid")
    await harness.until(harness.outbox_empty)
    await person.send("never mind")
    await person.tap("Main menu")
    assert person.text == "Choose what you need:"
    await person.press_data(f"mc:again:{code}")  # the old button: nothing is left to send
    [case] = await cases(harness)
    assert case.status == "closed"


async def test_a_message_from_the_main_menu_starts_a_new_request(harness: Harness) -> None:
    person = harness.person(1308)
    await person.send("/start")
    await person.send("My stepfather beats me")
    assert person.text.startswith("To send what you wrote to the helpline, choose what you need")
    await tap_all(person, REPORT)  # the consent is asked as for any request
    assert person.text.startswith("Got it. You can add more, or press Next.")
    await tap_all(person, AFTER_DESCRIPTION)
    await person.tap("Send")
    code = code_on_screen(person.text)
    assert code is not None
    await harness.until(harness.outbox_empty)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    assert "My stepfather beats me" in admin.card(code)["text"]
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        assert (await session.scalars(select(Draft))).all() == []  # nothing kept after


async def test_the_card_says_when_the_person_closes_and_the_topic_follows(
    harness: Harness,
) -> None:
    harness.api.forums.add(STAFF_CHAT_ID)
    person = harness.person(1309)
    code = await report(person)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    card = admin.card(code)
    topic = (STAFF_CHAT_ID, card["message_thread_id"])
    before = len(harness.api.calls)
    await person.send("/mycases")
    await person.tap(f"Close {code}")
    await harness.api.wait_for(lambda c: c.method == "closeForumTopic", after=before)
    card = admin.card(code)
    assert card["text"].endswith("👤 The person closed this request.")
    assert [label for label, _ in harness.api.buttons(card)] == ["Reopen"]
    assert topic in harness.api.closed_topics

    await person.send("One more thing")
    await person.tap(f"Send to {code}")
    await harness.api.wait_for(lambda c: c.method == "reopenForumTopic", after=before)
    assert topic not in harness.api.closed_topics


async def test_the_card_says_when_the_person_asks_to_be_forgotten(harness: Harness) -> None:
    harness.api.forums.add(STAFF_CHAT_ID)
    person = harness.person(1310)
    code = await report(person)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await harness.until(harness.outbox_empty)
    before = len(harness.api.calls)
    await person.send("/forget")
    await person.tap("Yes, erase")
    await harness.api.wait_for(lambda c: c.method == "closeForumTopic", after=before)
    card = admin.card(code)
    assert "The person erased their data (/forget)" in card["text"]
    assert harness.api.buttons(card) == []  # nothing applies any more


async def test_what_was_not_sent_is_dropped_on_start_over(harness: Harness) -> None:
    person = harness.person(1311)
    await person.send("/start")
    await person.send("I am scared")
    assert harness.app is not None
    assert harness.app.user_data[person.user.id]["unsent"]["text"] == "I am scared"
    await person.send("/start")
    assert "unsent" not in harness.app.user_data[person.user.id]
