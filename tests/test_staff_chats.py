"""Misconfiguration is loud (issue 12): a staff chat the bot cannot post in is named to every
admin with the fix, /healthz says so, and the reports wait and go once it is fixed."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from bot.settings import Settings
from bot.workers.staff_chat_watch import watch_of
from tests.botapi import BotApi, User
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, make_settings
from tests.flows import report
from tests.harness import Harness
from tests.test_staff import delivered


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en", health_port=free_port())


async def healthz(settings: Settings) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{settings.health_port}/healthz") as response,
    ):
        return response.status, await response.json()


async def admin_told(h: Harness, words: str) -> None:
    """Wait until the admin got a private message with these words."""

    async def told() -> bool:
        return any(
            c.method == "sendMessage"
            and c.params["chat_id"] == ADMIN_ID
            and words in c.params["text"]
            for c in h.api.calls
        )

    await h.until(told)


@asynccontextmanager
async def started(botapi: BotApi, settings: Settings) -> AsyncIterator[Harness]:
    """The bot started after the test set up what Telegram will say."""
    h = Harness(botapi, settings)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


async def test_a_staff_chat_without_the_bot_is_named_to_the_admins_and_reports_wait(
    botapi: BotApi, settings: Settings
) -> None:
    botapi.left.add(STAFF_CHAT_ID)
    async with started(botapi, settings) as h:
        await admin_told(
            h, f"The bot cannot write in the staff chat {STAFF_CHAT_ID}: it is not a member"
        )
        await admin_told(h, "Fix: add the bot to that chat as an administrator")
        status, body = await healthz(settings)
        assert status == 503 and body["staff_chats"] == {str(STAFF_CHAT_ID): "not_member"}

        code = await report(h.person(501), description=None)
        assert not await h.outbox_empty()  # kept, not dropped
        botapi.left.discard(STAFF_CHAT_ID)  # an admin adds the bot
        await delivered(h)  # on the next try
        assert h.app is not None
        await watch_of(h.app).check_all()  # the watch's next look (once a minute)
        assert any(
            str(m.get("text", "")).startswith(f"<b>{code}</b>")
            for m in botapi.messages[STAFF_CHAT_ID].values()
        )
        status, body = await healthz(settings)
        assert status == 200 and body["staff_chats"] == "ok", body


async def test_a_forum_where_the_bot_may_not_open_topics_is_named_too(
    botapi: BotApi, settings: Settings
) -> None:
    botapi.forums.add(STAFF_CHAT_ID)
    botapi.no_topic_rights.add(STAFF_CHAT_ID)
    async with started(botapi, settings) as h:
        await admin_told(
            h, f"The staff chat {STAFF_CHAT_ID} has topics, but the bot may not create them"
        )
        status, _ = await healthz(settings)
        assert status == 503


async def test_the_bot_removed_from_the_staff_chat_is_named_to_the_admins_at_once(
    botapi: BotApi, settings: Settings
) -> None:
    """The watch looks every five minutes while the staff chats work; Telegram's word that
    the bot was removed (my_chat_member) makes it look at once."""
    async with started(botapi, settings) as h:

        async def first_look_done() -> bool:
            return any(
                c.method == "getChat" and c.params["chat_id"] == STAFF_CHAT_ID for c in botapi.calls
            )

        await h.until(first_look_done)
        h.pushed(await botapi.bot_removed(User(ADMIN_ID), STAFF_CHAT_ID))
        await admin_told(
            h, f"The bot cannot write in the staff chat {STAFF_CHAT_ID}: it is not a member"
        )
        status, body = await healthz(settings)
        assert status == 503 and body["staff_chats"] == {str(STAFF_CHAT_ID): "not_member"}


async def test_a_staff_chat_where_the_bot_may_not_post_stays_named_until_it_is_fixed(
    botapi: BotApi, settings: Settings
) -> None:
    """The bot is a member, but an admin took away its right to post. The watch saw a
    member and nothing wrong: each of its looks cleared the problem (/healthz healthy
    again), sent the waiting report again, was refused again, and told the admins again."""
    botapi.may_not_post.add(STAFF_CHAT_ID)
    async with started(botapi, settings) as h:
        named = f"The bot cannot write in the staff chat {STAFF_CHAT_ID}: it is not a member"
        await admin_told(h, named)  # at start, before any report is refused
        code = await report(h.person(502), description=None)
        assert h.app is not None
        watch = watch_of(h.app)
        for _ in range(2):  # the watch's next looks (once a minute)
            await watch.check_all()
            status, body = await healthz(settings)
            assert status == 503 and body["staff_chats"] == {str(STAFF_CHAT_ID): "not_member"}
        told = [
            c
            for c in botapi.calls
            if c.method == "sendMessage"
            and c.params["chat_id"] == ADMIN_ID
            and named in str(c.params.get("text"))
        ]
        assert len(told) == 1, len(told)
        botapi.may_not_post.discard(STAFF_CHAT_ID)  # an admin gives the right back
        await watch.check_all()
        await delivered(h)
        assert any(
            str(m.get("text", "")).startswith(f"<b>{code}</b>")
            for m in botapi.messages[STAFF_CHAT_ID].values()
        )
        status, _ = await healthz(settings)
        assert status == 200
