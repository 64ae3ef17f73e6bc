"""No personal data in the logs (docs/safety.md, rule 11): a full run, then a scan of every line."""

from __future__ import annotations

import logging

import pytest

from bot.logs import setup_logging
from tests.botapi import Fault
from tests.conftest import ADMIN_ID
from tests.flows import report
from tests.harness import Harness


async def test_a_full_run_leaves_no_personal_data_in_the_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    setup_logging()  # the production levels (httpx silenced)
    caplog.set_level(logging.INFO)
    person = harness.person(555_123_987, first_name="Saule", username="saule_secret")
    code = await report(person, description="Saule Nurlanovna, 87015556677, Abay street 5")
    await person.send("he came back, call me at +7 701 555 66 77")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/duty on")
    await harness.until(harness.outbox_empty)
    card = admin.card(code)
    await admin.write_in_staff_chat("We hear you, Saule", reply_to=card)
    await harness.until(harness.outbox_empty)
    await person.send("/forget")
    await person.tap("Yes, erase")
    harness.api.faults["sendMessage"].extend([Fault(500, "Internal Server Error")] * 4)
    await person.send("/start")  # a Telegram failure is logged too

    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "telegram error NetworkError" in text, "the scan must see what the bot logs"
    for secret in (
        "555123987",
        "Saule",
        "saule_secret",
        "87015556677",
        "555 66 77",
        "Abay street",
        "he came back",
        "We hear you",
        harness.api.token,
    ):
        assert secret not in text, f"{secret!r} reached the logs"


def test_the_token_is_redacted_from_messages_and_tracebacks() -> None:
    """A library may quote the Bot API URL (which carries the token) in a message or in an
    exception; the log line and its traceback show <BOT_TOKEN> instead."""
    import io

    from bot.logs import RedactSecrets

    token = "123456:SECRET-token_value"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([token]))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("GET https://api.telegram.org/bot%s/getMe failed", token)
        try:
            raise ValueError(f"cannot connect to https://api.telegram.org/bot{token}/getUpdates")
        except ValueError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert token not in written
    assert written.count("<BOT_TOKEN>") == 2
    assert "ValueError" in written  # the traceback itself is kept
