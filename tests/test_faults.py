"""Telegram failing must not take the bot down."""

from __future__ import annotations

from tests.botapi import Fault
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
