"""The staff side end to end: invite, duty, card, take, relay both ways, close, rating,
forum topics, escalation, and the outbox under faults (docs/staff-guide.md)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.compose import build_application
from bot.settings import Settings
from models import AuditEntry, Case, OutboxMessage, StaffMember
from tests.botapi import DROP, DROP_AFTER, BotApi, Fault
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, make_settings
from tests.flows import cases, report
from tests.harness import Harness, Volunteer


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    """The staff chat speaks DEFAULT_LOCALE: English here, to read the cards in the tests."""
    return make_settings(botapi, database_url, default_locale="en")


async def join_as(harness: Harness, role: str, user_id: int, name: str) -> Volunteer:
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send(f"/invite {role}")
    link = admin.text.split("\n")[-1]
    assert link.startswith("https://t.me/qorgau_bot?start=inv_"), admin.text
    volunteer = harness.volunteer(user_id, name)
    await volunteer.send("/start " + link.split("start=")[1])
    assert volunteer.text.startswith(f"Welcome to the team. Your role: {role}.")
    await volunteer.send("/duty on")
    return volunteer


async def delivered(harness: Harness) -> None:
    await harness.until(harness.outbox_empty, timeout=30)


async def audit_actions(harness: Harness) -> list[str]:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        return [e.action for e in (await session.scalars(select(AuditEntry))).all()]


async def test_one_case_from_card_to_rating(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 601, "Dana")
    person = harness.person(602, first_name="Aliya", username="aliya_k")
    code = await report(person, description="My boss does not pay me, I am a woman")
    await delivered(harness)

    card = dana.card(code)
    text = card["text"]
    for expected in (
        "Report an incident",
        "Topic: Bullying or cyberbullying · At school",
        "Who: Me · Age: 30–59",
        "Region: Karaganda region",
        "Language: English",
        "My boss does not pay me",
    ):
        assert expected in text, expected
    for secret in ("Aliya", "aliya_k", "602"):
        assert secret not in text  # staff never see who the person is
    assert [label for label, _ in harness.api.buttons(card)] == [
        "Take",
        "Close",
        "Ready answer",
        "Risk level",
    ]

    await dana.press(card, "Take")
    card = dana.card(code)
    assert 'Taken by <a href="tg://user?id=601">Dana</a>' in card["text"]
    assert [label for label, _ in harness.api.buttons(card)] == [
        "Reply",
        "Release",
        "Close",
        "Refer",
        "Rights page",
        "Ready answer",
        "Risk level",
    ]

    await dana.write_in_staff_chat(
        "You have the right to your salary. Write down the dates.", reply_to=card
    )
    await delivered(harness)
    answer = person.screen
    assert answer["text"] == "Helpline: You have the right to your salary. Write down the dates."
    assert "Dana" not in answer["text"]

    await person.send("Thank you. He also threatens me, my number 87011112233")
    assert person.text == f"Added to your request {code}. The helpline will see it."
    await delivered(harness)
    relayed = dana.staff_messages()[-1]
    assert relayed["text"].startswith(f"💬 <b>{code}</b>: Thank you. He also threatens me")
    assert "[phone]" in relayed["text"] and "87011112233" not in relayed["text"]
    assert relayed["reply_to"] == card["message_id"]
    assert "tg://user?id=601" in relayed["text"]  # the volunteer who took it is pinged

    # A reply to the relayed follow-up reaches the person too.
    await dana.write_in_staff_chat("We will call the labour inspection.", reply_to=relayed)
    await delivered(harness)
    assert person.screen["text"] == "Helpline: We will call the labour inspection."

    await dana.press(dana.card(code), "Close")
    await dana.press(dana.card(code), "Legal aid")
    assert "✅ Closed: Legal aid" in dana.card(code)["text"]
    await delivered(harness)
    assert person.text.startswith(f"Your request {code} is closed.")
    await person.tap("5")
    assert person.text == "Thank you for your answer."

    [case] = await cases(harness)
    assert (case.status, case.outcome, case.rating, case.taken_by) == (
        "closed",
        "legal_aid",
        5,
        601,
    )
    assert case.first_answer_at is not None and case.taken_at is not None
    actions = await audit_actions(harness)
    for action in ("invite", "joined", "take", "reply", "close"):
        assert action in actions


async def test_only_staff_may_press_card_buttons(harness: Harness) -> None:
    person = harness.person(610)
    code = await report(person)
    await delivered(harness)
    stranger = harness.volunteer(611, "Stranger")
    calls = len(harness.api.calls)
    await stranger.press(stranger.card(code), "Take")
    [answer] = [c for c in harness.api.calls[calls:] if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == "Only helpline staff can do this."
    assert answer.params["show_alert"] is True
    [case] = await cases(harness)
    assert case.taken_by is None
    # A stranger's reply to the card reaches nobody.
    await stranger.write_in_staff_chat("hello", reply_to=stranger.card(code))
    await delivered(harness)
    assert not any(m.get("text", "").startswith("Helpline") for m in person.bot_messages())


async def test_forum_topics_one_per_case_and_a_deleted_topic_is_remade(harness: Harness) -> None:
    harness.api.forums.add(STAFF_CHAT_ID)
    dana = await join_as(harness, "coordinator", 620, "Dana")
    person = harness.person(621)
    code = await report(person)
    await delivered(harness)
    [topic_call] = [c for c in harness.api.calls if c.method == "createForumTopic"]
    assert topic_call.params["name"] == code  # named by the code only
    card = dana.card(code)
    thread = card["message_thread_id"]
    # A reply to the card in the case's topic goes to the person (a plain message in the
    # topic is a note: tests/test_casework.py).
    await dana.write_in_staff_chat("We are here.", thread=thread, reply_to=card)
    await delivered(harness)
    assert person.screen["text"] == "Helpline: We are here."

    harness.api.deleted_topics.add((STAFF_CHAT_ID, thread))
    await person.send("Are you there?")
    await delivered(harness)
    topics = [c for c in harness.api.calls if c.method == "createForumTopic"]
    assert len(topics) == 2
    new_card = dana.card(code)
    assert new_card["message_thread_id"] != thread
    follow_up = dana.staff_messages()[-1]
    assert "Are you there?" in follow_up["text"]
    assert follow_up["message_thread_id"] == new_card["message_thread_id"]


async def test_unclaimed_cases_are_escalated_to_coordinators(harness: Harness) -> None:
    coordinator = await join_as(harness, "coordinator", 630, "Marat")
    person = harness.person(631)
    code = await report(person)
    await delivered(harness)
    assert harness.app is not None and harness.app.job_queue is not None
    [job] = [j for j in harness.app.job_queue.jobs() if j.name == "escalate"]

    await job.run(harness.app)  # too early: nothing
    await delivered(harness)
    assert not any("Nobody has taken" in m.get("text", "") for m in coordinator.staff_messages())

    async with harness.app.services.sessions.begin() as session:  # shift time: 16 minutes ago
        await session.execute(
            update(Case).values(created_at=datetime.now(UTC) - timedelta(minutes=16))
        )
    await job.run(harness.app)
    await delivered(harness)
    [repost] = [m for m in coordinator.staff_messages() if "Nobody has taken" in m["text"]]
    assert repost["text"].startswith("⏰ Nobody has taken this case for 16 minutes.")
    assert code in repost["text"]
    assert "tg://user?id=630" in repost["text"] and f"tg://user?id={ADMIN_ID}" in repost["text"]
    await job.run(harness.app)  # not again until another period has passed
    await delivered(harness)
    assert sum("Nobody has taken" in m["text"] for m in coordinator.staff_messages()) == 1


async def test_urgent_cases_escalate_after_a_third_of_the_period(harness: Harness) -> None:
    person = harness.person(640)
    await person.send("/start")
    await person.tap("Report an incident")
    await person.tap("Someone is in danger now")
    await person.tap("Continue")
    for label in (
        "Violence at home",
        "Another adult",
        "30–59",
        "Astana",
        "Skip",
        "Yes, answer me here",
        "I agree",
        "Send",
    ):
        await person.tap(label)
    await delivered(harness)
    assert harness.app is not None
    async with harness.app.services.sessions.begin() as session:
        await session.execute(
            update(Case).values(created_at=datetime.now(UTC) - timedelta(minutes=6))
        )
    codes = await harness.app.services.casework.escalate_due(timedelta(minutes=15))
    assert len(codes) == 1


async def test_nobody_on_duty_the_person_is_told_honestly(harness: Harness) -> None:
    person = harness.person(650)
    await report(person)
    assert "no volunteer is on duty" in person.text
    assert "☎ 112" in person.text


async def test_a_person_who_blocked_the_bot_staff_are_told_case_stays(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 660, "Dana")
    person = harness.person(661)
    code = await report(person)
    await delivered(harness)
    harness.api.blocked.add(person.user.id)
    await dana.write_in_staff_chat("Hello?", reply_to=dana.card(code))
    await delivered(harness)
    notice = dana.staff_messages()[-1]
    assert "has blocked the bot" in notice["text"] and code in notice["text"]
    [case] = await cases(harness)
    assert case.status == "open"


async def test_a_reply_survives_a_restart_before_delivery(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 670, "Dana")
    person = harness.person(671)
    code = await report(person)
    await delivered(harness)
    # Telegram fails every send to the person while the bot goes down and up again.
    harness.api.fault_rule = lambda method, params: (
        Fault(500, "Internal Server Error") if params.get("chat_id") == 671 else None
    )
    await dana.write_in_staff_chat("Your answer", reply_to=dana.card(code))
    await harness.restart()
    harness.api.fault_rule = None
    await delivered(harness)
    answers = [m for m in person.bot_messages() if m.get("text") == "Helpline: Your answer"]
    assert len(answers) == 1


async def test_a_card_sent_again_after_a_crash_mid_send_says_so(harness: Harness) -> None:
    await join_as(harness, "lawyer", 675, "Dana")
    # Telegram does not answer the staff chat while the case comes in: the card stays owed.
    harness.api.fault_rule = lambda method, params: (
        Fault(500, "Internal Server Error") if params.get("chat_id") == STAFF_CHAT_ID else None
    )
    person = harness.person(676)
    code = await report(person)
    await harness.stop()
    # What a kill -9 in the middle of sending leaves: the row claimed, never finished.
    assert harness.app is None
    probe = build_application(harness.settings)
    async with probe.services.sessions.begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == "card")
            .values(
                lease_until=datetime.now(UTC) - timedelta(seconds=1),
                sending_since=datetime.now(UTC) - timedelta(seconds=31),
                due_at=datetime.now(UTC),
            )
        )
    await probe.services.engine.dispose()
    harness.api.fault_rule = None
    await harness.start()
    await delivered(harness)
    [card] = [
        m
        for m in harness.api.messages[STAFF_CHAT_ID].values()
        if m["from"]["is_bot"] and code in m.get("text", "")
    ]
    assert card["text"].startswith("↻ Sent again: the first try may have arrived.")
    assert f"<b>{code}</b>" in card["text"]


async def test_outbox_delivers_everything_exactly_once_under_faults(harness: Harness) -> None:
    await join_as(harness, "coordinator", 680, "Dana")
    rng = random.Random(7)
    faults = {"failed": 0}

    def flaky(method: str, params: dict[str, object]) -> Fault | None:
        if method not in ("sendMessage", "copyMessage", "createForumTopic"):
            return None
        if params.get("chat_id") != STAFF_CHAT_ID or rng.random() > 0.3:
            return None
        faults["failed"] += 1
        if faults["failed"] == 1:  # once, slower than the client waits (5 s): a real timeout
            return Fault(500, "Gateway Timeout", delay=5.5)
        return rng.choice(
            [
                Fault(429, "Too Many Requests: retry after 1", retry_after=1),
                Fault(500, "Internal Server Error"),
                Fault(DROP, ""),
            ]
        )

    harness.api.fault_rule = flaky
    codes = []
    for n in range(8):
        person = harness.person(700 + n)
        codes.append(await report(person, description=f"case number {n}"))
        await person.send(f"follow-up of {n}")
    await harness.until(harness.outbox_empty, timeout=60)
    harness.api.fault_rule = None
    # A try that got no answer (the connection was cut) may have arrived: the next one is
    # marked "Sent again", so the card may start with the mark.
    staff_chat = [
        re.sub(r"^↻[^\n]*\n\n", "", m.get("text", ""))
        for m in harness.api.messages[STAFF_CHAT_ID].values()
    ]
    for n, code in enumerate(codes):
        cards = [text for text in staff_chat if text.startswith(f"<b>{code}</b>")]
        follow_ups = [text for text in staff_chat if f"follow-up of {n}" in text]
        assert len(cards) == 1, (code, len(cards))
        assert len(follow_ups) == 1, (n, len(follow_ups))
    assert faults["failed"] > 0


async def test_a_card_whose_answer_was_lost_is_sent_again_marked(harness: Harness) -> None:
    """Telegram took the card but the connection broke before its answer: the bot cannot
    know, so it sends the card again with the "Sent again" mark for the staff (also when that
    try is refused in its turn); an answer to either copy reaches the person."""
    person = harness.person(683)
    cut: list[dict[str, object]] = []

    def cut_then_throttled(method: str, params: dict[str, object]) -> Fault | None:
        """The first try: taken, answer lost; the second: refused (429); then fine."""
        if method != "sendMessage" or params.get("chat_id") != STAFF_CHAT_ID or len(cut) > 1:
            return None
        cut.append(params)
        if len(cut) == 1:
            return Fault(DROP_AFTER, "")
        return Fault(429, "Too Many Requests: retry after 1", retry_after=1)

    harness.api.fault_rule = cut_then_throttled
    code = await report(person)
    await delivered(harness)
    cards = [m for m in harness.api.messages[STAFF_CHAT_ID].values() if code in m.get("text", "")]
    assert len(cards) == 2
    assert cards[0]["text"].startswith(f"<b>{code}</b>")
    assert cards[1]["text"].startswith("↻ Sent again: the first try may have arrived.")
    # A volunteer answers the first copy, whose message id the bot never got: the code in
    # it still leads to the case.
    dana = await join_as(harness, "lawyer", 684, "Dana")
    await dana.write_in_staff_chat("We have your message.", reply_to=cards[0])
    await delivered(harness)
    assert person.text == "Helpline: We have your message."


async def test_an_answer_does_not_wait_for_a_failing_staff_chat(harness: Harness) -> None:
    """The person's follow-up cannot reach the staff chat for now; the answer a volunteer
    already wrote still reaches the person (each direction keeps its own order)."""
    dana = await join_as(harness, "coordinator", 681, "Dana")
    person = harness.person(682)
    code = await report(person)
    await delivered(harness)
    card = dana.card(code)

    def staff_chat_down(method: str, params: dict[str, object]) -> Fault | None:
        sending = method in ("sendMessage", "copyMessage")
        return (
            Fault(500, "Internal Server Error")
            if sending and params.get("chat_id") == STAFF_CHAT_ID
            else None
        )

    harness.api.fault_rule = staff_chat_down
    await person.send("Are you there?")
    await dana.write_in_staff_chat("Yes, we read you.", reply_to=card)

    async def answered() -> bool:
        return person.text == "Helpline: Yes, we read you."

    await harness.until(answered)
    assert not any("Are you there?" in m.get("text", "") for m in dana.staff_messages())
    harness.api.fault_rule = None
    await delivered(harness)  # the follow-up arrives once the staff chat is back
    assert any("Are you there?" in m.get("text", "") for m in dana.staff_messages())


async def test_admin_manages_staff_and_sees_duty(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 690, "Dana")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/staff")
    assert "<code>690</code> Dana: lawyer ✅" in admin.text
    await admin.send("/duty")
    assert "Dana (lawyer)" in admin.text
    await admin.send("/role 690 psychologist")
    await admin.send("/remove 690")
    assert admin.text.startswith("690 is off the staff roster.")
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        assert await session.get(StaffMember, 690) is None
    await dana.send("/duty on")
    assert dana.text == "Only helpline staff can do this."
    await dana.send("/invite lawyer")
    assert dana.text == "Only admins can do this."
    await admin.send("/audit")
    assert "role change" in admin.text and "remove" in admin.text


async def test_invite_links_work_once(harness: Harness) -> None:
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/invite psychologist")
    arg = admin.text.split("start=")[1]
    first, second = harness.volunteer(701, "A"), harness.volunteer(702, "B")
    await first.send(f"/start {arg}")
    await second.send(f"/start {arg}")
    assert second.text.startswith("This invitation link is not valid any more.")


async def test_routing_rules_send_a_kind_of_case_to_another_chat(harness: Harness) -> None:
    legal_chat = -1009990001
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send(f"/route add {legal_chat} kind=legal")
    assert admin.text == "Rule 1 added."
    person = harness.person(703)
    await person.send("/start")
    for label in (
        "Legal help",
        "Yes, it is safe",
        "Problems at work",
        "Me",
        "30–59",
        "Almaty",
        "Skip",
        "Yes, answer me here",
        "I agree",
        "Send",
    ):
        await person.tap(label)
    await delivered(harness)
    [case] = await cases(harness)
    assert case.staff_chat_id == legal_chat
    lawyer = await join_as(harness, "lawyer", 704, "Aidos")
    await lawyer.write_in_staff_chat(
        "Hi", reply_to=lawyer.card(case.code, legal_chat), chat=legal_chat
    )
    await delivered(harness)
    assert person.screen["text"] == "Helpline: Hi"
