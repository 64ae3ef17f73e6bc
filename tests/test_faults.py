"""Telegram failing must not take the bot down."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models import OutboxMessage
from tests.botapi import Fault
from tests.flows import AFTER_DESCRIPTION, REPORT, cases, tap_all
from tests.harness import Harness


async def test_bot_survives_telegram_errors_and_answers_afterwards(harness: Harness) -> None:
    person = harness.person(201)
    harness.api.faults["sendMessage"].extend(
        [Fault(500, "Internal Server Error"), Fault(403, "Forbidden: bot was blocked by the user")]
    )
    await person.send("/start")  # 500, tried again: 403 (blocked): nothing to show
    assert not person.bot_messages()
    await person.send("/start")
    assert person.text.startswith("If you or someone else is in danger now")
    assert len(person.bot_messages()) == 1


async def test_a_hiccup_does_not_cost_the_person_a_screen(harness: Harness) -> None:
    person = harness.person(203)
    harness.api.faults["sendMessage"].append(Fault(500, "Internal Server Error"))
    harness.api.faults["answerCallbackQuery"].append(Fault(500, "Internal Server Error"))
    harness.api.faults["editMessageText"].append(Fault(429, "Too Many Requests", retry_after=1))
    await person.send("/start")
    assert person.text.startswith("If you or someone else is in danger now")
    await person.tap("Report an incident")
    assert person.text.startswith("Before we start")
    assert len(person.bot_messages()) == 1


async def test_bot_starts_when_telegram_fails_while_it_starts(harness: Harness) -> None:
    await harness.stop()
    harness.api.faults["getMe"].append(Fault(500, "Internal Server Error"))
    harness.api.faults["deleteWebhook"].append(Fault(429, "Too Many Requests", retry_after=1))
    await harness.start()  # waits until the bot runs
    failed = [c.method for c in harness.api.calls if c.method in ("getMe", "deleteWebhook")]
    assert failed.count("getMe") >= 2 and failed.count("deleteWebhook") >= 2
    person = harness.person(202)
    await person.send("/start")
    assert person.text.startswith("If you or someone else is in danger now")


async def test_the_code_reaches_the_person_when_the_sent_screen_fails(harness: Harness) -> None:
    """Telegram fails the "Sent" screen four times running: the case is stored, and the code
    still arrives (through the outbox), so the person does not report again."""
    person = harness.person(204)
    await person.send("/start")
    await tap_all(person, REPORT)
    await person.send("They follow me home.")
    await tap_all(person, AFTER_DESCRIPTION)
    failed = 0

    def fail_four_times(method: str, params: dict[str, Any]) -> Fault | None:
        nonlocal failed
        if method == "sendMessage" and params.get("chat_id") == person.user.id and failed < 4:
            failed += 1
            return Fault(500, "Internal Server Error")
        return None

    harness.api.fault_rule = fail_four_times
    await person.tap("Send")
    assert failed == 4
    [case] = await cases(harness)

    async def code_shown() -> bool:
        return any(case.code in m.get("text", "") for m in person.bot_messages())

    await harness.until(code_shown)
    await harness.until(harness.outbox_empty)  # and its row written down as sent
    assert person.text.startswith(f"Sent. Your reference code: {case.code}")
    assert "Report an incident" in person.buttons  # the main menu, as on the first try
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "confirmation")
        )
    assert row is not None and row.status == "sent" and row.payload == "{}"  # chat id gone
