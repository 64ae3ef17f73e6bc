"""Telegram's limits (issue 12): the stand-in refuses what Telegram refuses, and the bot's one
way out (bot/rate_limiter.py) keeps to the flood limits without holding up other chats."""

from __future__ import annotations

import time
from typing import Any

import pytest
from telegram import Bot
from telegram.error import BadRequest, RetryAfter

from tests.botapi import BotApi, Fault, User
from tests.conftest import ADMIN_ID
from tests.harness import Harness


async def test_the_stand_in_refuses_what_telegram_refuses(botapi: BotApi) -> None:
    person = User(301)
    photo = await botapi.send(person, "", photo=[{"file_id": "f", "file_unique_id": "u"}])
    async with Bot(botapi.token, base_url=botapi.url) as bot:
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(301, "a" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
            await bot.copy_message(-100, 301, photo["message_id"], caption="a" * 1025)
        # Markup does not count: 1,024 visible characters in bold pass.
        await bot.copy_message(
            -100, 301, photo["message_id"], caption=f"<b>{'a' * 1024}</b>", parse_mode="HTML"
        )
        botapi.person_deletes(301, photo["message_id"])
        with pytest.raises(BadRequest, match=r"(?i)message to copy not found"):
            await bot.copy_message(-100, 301, photo["message_id"])
        # About one message a second in a private chat, after a short burst.
        for n in range(3):
            await bot.send_message(302, f"{n}")
        with pytest.raises(RetryAfter):
            await bot.send_message(302, "one too many")
        # 20 a minute in a group.
        for n in range(20):
            await bot.send_message(-200, f"{n}")
        with pytest.raises(RetryAfter):
            await bot.send_message(-200, "one too many")


async def test_a_plain_message_in_a_topic_answers_the_topics_first_message(
    botapi: BotApi,
) -> None:
    async with Bot(botapi.token, base_url=botapi.url) as bot:
        topic = await bot.create_forum_topic(-300, name="ABCD-EFGH")
    message = await botapi.send_in_group(User(5), -300, "hello", thread=topic.message_thread_id)
    assert message["reply_to_message"]["forum_topic_created"]["name"] == "ABCD-EFGH"
    assert message["reply_to_message"]["message_id"] == topic.message_thread_id


def replies_to(api: BotApi, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
    return [
        c.params
        for c in api.calls[after:]
        if c.method == "sendMessage" and c.params["chat_id"] == chat_id
    ]


async def test_a_chat_held_by_a_429_does_not_hold_the_others(
    harness: Harness, botapi: BotApi
) -> None:
    """Seen: 14.5 s for everyone's /start while one chat waited out a 429."""
    held, other = User(311), User(312)
    refused: list[int] = []

    def once(method: str, params: dict[str, Any]) -> Fault | None:
        if method == "sendMessage" and params["chat_id"] == held.id and not refused:
            refused.append(1)
            return Fault(429, "Too Many Requests: retry after 3", retry_after=3)
        return None

    botapi.fault_rule = once
    started = time.monotonic()
    await botapi.send(held, "/start")
    await harness.until(lambda: _count(botapi, held.id, 1))  # refused: that chat waits 3 s
    await botapi.send(other, "/start")
    await botapi.wait_for(
        lambda c: c.method == "sendMessage" and c.params["chat_id"] == other.id, timeout=10
    )
    assert time.monotonic() - started < 1.5
    # The held chat's reply is not lost: it goes once the 429's wait is over.
    await harness.until(lambda: _count(botapi, held.id, 2), timeout=10)  # refused, then sent
    assert time.monotonic() - started >= 3
    assert "call" in botapi.screen(held.id)["text"]


async def test_a_burst_of_admin_commands_loses_no_reply(harness: Harness, botapi: BotApi) -> None:
    admin = User(ADMIN_ID, language_code="en")
    for _ in range(8):
        await botapi.send(admin, "/stats")
    await harness.until(lambda: _count(botapi, ADMIN_ID, 8), timeout=20)
    assert botapi.flood is not None and botapi.flood.refused == 0  # paced, not refused


async def _count(api: BotApi, chat_id: int, n: int) -> bool:
    return len(replies_to(api, chat_id)) >= n
