"""Telegram failing must not take the bot down."""

from __future__ import annotations

from tests.botapi import Fault
from tests.harness import Harness


async def test_bot_survives_telegram_errors_and_answers_afterwards(harness: Harness) -> None:
    person = harness.person(201)
    harness.api.faults["sendMessage"].extend(
        [Fault(500, "Internal Server Error"), Fault(403, "Forbidden: bot was blocked by the user")]
    )
    await person.send("/start")
    await person.send("/start")
    assert not person.bot_messages()
    await person.send("/start")
    assert person.text.startswith("If you or someone else is in danger now")
