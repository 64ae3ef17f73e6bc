"""Hostile and unusual input: at least 1,000 odd updates, no crash, no stack trace to a
person, an answer where one fits, and forged staff actions refused."""

from __future__ import annotations

import logging
import random
import string
import time
from typing import Any

import pytest

from tests.botapi import User
from tests.conftest import STAFF_CHAT_ID
from tests.flows import report
from tests.harness import Harness

MEDIA: list[dict[str, Any]] = [
    {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]},
    {"document": {"file_id": "d", "file_unique_id": "d", "file_name": "x.pdf"}},
    {
        "sticker": {
            "file_id": "s",
            "file_unique_id": "s",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        }
    },
    {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}},
    {"video": {"file_id": "vi", "file_unique_id": "vi", "width": 1, "height": 1, "duration": 1}},
    {"video_note": {"file_id": "vn", "file_unique_id": "vn", "length": 1, "duration": 1}},
    {"audio": {"file_id": "a", "file_unique_id": "a", "duration": 1}},
    {
        "animation": {
            "file_id": "an",
            "file_unique_id": "an",
            "width": 1,
            "height": 1,
            "duration": 1,
        }
    },
    {"location": {"latitude": 43.2, "longitude": 76.9}},
    {"contact": {"phone_number": "+77015550000", "first_name": "Mom"}},
    {"dice": {"emoji": "🎲", "value": 3}},
    {"venue": {"location": {"latitude": 1.0, "longitude": 2.0}, "title": "t", "address": "a"}},
]
TEXTS = [
    "",
    " ",
    "x" * 5000,
    "/start " + "A" * 300,
    "/start inv_" + "z" * 40,
    "/start inv_",
    "/invite",
    "/invite king",
    "/stats abc",
    "/stats -5",
    "/export 99999999 text",
    "/route add x",
    "/route del",
    "/role a b",
    "/remove",
    "/duty sideways",
    "/broadcast",
    "/mycases extra args",
    "/forget now",
    "/language xx",
    "/subscribe 1 2 3",
    "/unknown",
    "‮reversed‬",
    "\u200b\u200b",
    "🙂" * 500,
    "<b>bold</b> <script>",
    "{code}",
    "%s %d",
    "8 701 234 56 78",
    "@someone",
    "https://evil.example/x",
    "\x00\x01",
]
CALLBACKS = [
    "",
    "x",
    "menu",
    "lang",
    "lang:zz",
    "lang:kk",
    "numbers",
    "about",
    "forget",
    "forget:yes",
    "forget:maybe",
    "mycases",
    "mc:close:AAAA-2222",
    "m:report",
    "m:evil",
    "i:back",
    "i:cancel",
    "i:safe:yes",
    "i:category:nope",
    "i:summary:send",
    "i:summary:edit:nope",
    "i:region:more",
    "c:AAAA2222:take",
    "c:ZZZZ9999:o:advice",
    "c:AAAA2222:o:bogus",
    "r:AAAA2222:5",
    "r:AAAA2222:9",
    "bp:1:cancel",
    "bp:x:pause",
    "bc:send",
    "bc:add:zz",
    "sub:on",
    "sub:off",
    "rights",
    "rights:nope",
    "rights:violence",
    "".join(random.Random(1).choices(string.printable, k=64)),
]


def fill_message(rng: random.Random, message: dict[str, Any], *, media: bool) -> None:
    """A file with perhaps a caption, or a text (perhaps a command)."""
    if media:
        message.update(rng.choice(MEDIA))
        if rng.random() < 0.5:
            message["caption"] = rng.choice(TEXTS) or "c"
        return
    text = rng.choice(TEXTS)
    if text:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]


def callback_update(
    rng: random.Random, n: int, code: str, user: dict[str, Any], message: dict[str, Any]
) -> dict[str, Any]:
    data = rng.choice(
        [*CALLBACKS, f"c:{code.replace('-', '')}:take", f"c:{code.replace('-', '')}:o:advice"]
    )
    query: dict[str, Any] = {"id": str(n), "from": user, "chat_instance": "c", "data": data}
    if rng.random() < 0.8:
        query["message"] = {
            **message,
            "text": "old screen",
            "from": {"id": 7000000001, "is_bot": True, "first_name": "Q"},
        }
    else:
        query["inline_message_id"] = "inline"
    return {"callback_query": query}


def random_update(rng: random.Random, n: int, code: str) -> dict[str, Any]:
    # Many people, as a real flood would be: one chat gets about one answer a second.
    user_id = 10_001 + rng.randrange(400)
    user = User(user_id, language_code=rng.choice(["en", "ru", "kk", "de", None])).as_dict()
    private = {"id": user_id, "type": "private", "first_name": "F"}
    group = {"id": rng.choice([STAFF_CHAT_ID, -100777]), "type": "supergroup", "title": "G"}
    message: dict[str, Any] = {
        "message_id": 100_000 + n,
        "date": 1,
        "from": user,
        "chat": rng.choice([private, private, group]),
    }
    kind = rng.randrange(7)
    if kind in (0, 1):
        fill_message(rng, message, media=kind == 0)
    elif kind == 2:
        return callback_update(rng, n, code, user, message)
    elif kind == 3:
        return {"edited_message": {**message, "text": "edited", "edit_date": 2}}
    elif kind == 4:
        channel = {"id": -100555, "type": "channel", "title": "C"}
        return {"channel_post": {"message_id": n, "date": 1, "chat": channel, "text": "post"}}
    elif kind == 5:
        message["chat"] = group
        message["text"] = rng.choice(TEXTS) or "hi"
        message["reply_to_message"] = {
            "message_id": rng.randrange(1, 50),
            "date": 1,
            "chat": group,
            "text": "card",
        }
    else:
        message["text"] = "/start"
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    return {"message": message}


async def test_a_thousand_odd_updates_break_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    code = await report(harness.person(10_005))
    await harness.until(harness.outbox_empty)
    rng = random.Random(2026)
    started = time.monotonic()
    for n in range(1_100):
        harness.pushed(await harness.api.push_raw(random_update(rng, n, code)))
        if n % 50 == 49:
            await harness.settle(timeout=30)
    await harness.settle(timeout=60)
    elapsed = time.monotonic() - started

    failures = [r for r in caplog.records if r.name == "qorgau.errors" and r.levelno >= 40]
    assert failures == [], "\n".join(r.getMessage()[:300] for r in failures[:5])
    sent_texts = [c.params.get("text", "") for c in harness.api.calls if c.method == "sendMessage"]
    assert not any("Traceback" in t or "Error" in t for t in sent_texts)
    # Forged staff actions changed nothing: the case is still open and untaken.
    assert harness.app is not None
    case = await harness.app.services.casework.by_code(code)
    assert case is not None and case.taken_by is None and case.status == "open"
    # And the bot still answers as before.
    person = harness.person(10_006)
    await person.send("/start")
    assert person.text.startswith("If you or someone else is in danger now")
    assert elapsed < 120
