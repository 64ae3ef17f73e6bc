"""bot/ptb_private.py leans on PTB's private API; these fail when an upgrade changes it."""

from __future__ import annotations

from typing import cast

from telegram import Bot
from telegram.ext._utils.trackingdict import TrackingDict
from telegram.request import BaseRequest

from bot.ptb_private import chosen, raw_updates, set_conversation_state
from tests.botapi import BotApi
from tests.harness import Harness


async def test_a_conversation_state_is_set_and_dropped_without_being_marked_changed(
    harness: Harness,
) -> None:
    assert harness.app is not None
    [intake, *_] = harness.app.persistent_conversations()
    set_conversation_state(intake, (1, 2), "safe")
    tracked = cast(TrackingDict[tuple[int, ...], object], intake._conversations)
    assert tracked[(1, 2)] == "safe"
    assert (1, 2) not in dict(tracked.pop_accessed_write_items())  # not marked as changed
    set_conversation_state(intake, (1, 2), None)
    assert (1, 2) not in tracked


def test_the_default_timeout_sentinel_means_ours() -> None:
    assert chosen(BaseRequest.DEFAULT_NONE, 5.0) == 5.0
    assert chosen(2.0, 5.0) == 2.0
    assert chosen(None, 5.0) is None


async def test_updates_are_read_as_json(botapi: BotApi) -> None:
    """Bot._post answers getUpdates with Telegram's JSON (bot/polling.py parses only the new)."""
    pushed = await botapi.push_raw(
        {
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "hello",
                "chat": {"id": 4242, "type": "private"},
            }
        }
    )
    async with Bot(botapi.token, base_url=botapi.url) as bot:
        updates = await raw_updates(bot, None, 0, ["message"])
    assert [(u["update_id"], u["message"]["text"]) for u in updates] == [(pushed, "hello")]
