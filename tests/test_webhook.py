"""Webhook mode: the secret is checked on every request; /healthz and /metrics answer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable

import aiohttp

from bot.compose import build_application
from bot.settings import ConfigError, load_settings
from bot.web import SECRET_HEADER, serve_webhook
from tests.botapi import BotApi, User
from tests.conftest import STAFF_CHAT_ID, make_settings
from tests.flows import AFTER_DESCRIPTION, REPORT, code_on_screen
from tests.harness import ended


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_update(update_id: int, user_id: int) -> dict[str, object]:
    user = {"id": user_id, "is_bot": False, "first_name": "W", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "from": user,
            "text": "/start",
            "chat": {"id": user_id, "type": "private", "first_name": "W"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_webhook_checks_the_secret_and_serves_health_and_metrics(
    botapi: BotApi, database_url: str
) -> None:
    port = free_port()
    public = "https://help.example.org/tg/hook"  # Telegram calls https only; a proxy forwards
    url = f"http://127.0.0.1:{port}/tg/hook"
    settings = make_settings(
        botapi, database_url, webhook_url=public, webhook_secret="s3cret_Token-1", port=port
    )
    application = build_application(settings)
    stop = asyncio.Event()
    server = asyncio.create_task(serve_webhook(application, stop))
    try:
        registered = await botapi.wait_for(lambda c: c.method == "setWebhook", timeout=20)
        assert registered.params["url"] == public
        assert registered.params["secret_token"] == "s3cret_Token-1"
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "wrong"}):
                async with http.post(url, json=start_update(1, 4242), headers=headers) as r:
                    assert r.status == 403
            async with http.post(
                url, json=start_update(2, 4243), headers={SECRET_HEADER: "s3cret_Token-1"}
            ) as r:
                assert r.status == 200
            answer = await botapi.wait_for(lambda c: c.method == "sendMessage")
            assert answer.params["chat_id"] == 4243  # only the request with the secret
            assert answer.params["text"].startswith("If you or someone else is in danger")
            # Telegram resends an update whose answer it did not get: handled once only.
            async with http.post(
                url, json=start_update(2, 4243), headers={SECRET_HEADER: "s3cret_Token-1"}
            ) as r:
                assert r.status == 200
            assert [c.params["chat_id"] for c in botapi.calls if c.method == "sendMessage"] == [
                4243
            ]
            async with http.post(
                url, data=b"not json", headers={SECRET_HEADER: "s3cret_Token-1"}
            ) as r:
                assert r.status == 200  # dropped, so Telegram does not resend it forever
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
                body = await r.json()
                assert body["database"] == "ok" and body["outbox_pending"] == 0
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                metrics = await r.text()
            assert "qorgau_updates_handled 1.0" in metrics
            assert "qorgau_outbox_pending 0.0" in metrics
            assert "qorgau_cases_opened 0.0" in metrics
    finally:
        stop.set()
        await ended(server, 20)


def test_webhook_url_without_a_secret_is_refused() -> None:
    try:
        load_settings(
            _env_file=None,
            bot_token="1:x",
            secret_key="Qorgau-webhook-key-5Jd2Ks8Qv1Xm7Bn4Ty9Pc3",
            staff_chat_id=-1,
            webhook_url="https://example.org/hook",
        )
    except ConfigError as error:
        assert error.lines == ["WEBHOOK_SECRET is missing: it is required with WEBHOOK_URL"]
    else:
        raise AssertionError("a webhook without a secret was accepted")


async def test_a_whole_report_arrives_through_telegrams_webhook_calls(
    botapi: BotApi, database_url: str
) -> None:
    """Telegram (the stand-in) POSTs each update to the registered webhook, several at a
    time: a person reports from /start to the code, and the card reaches the staff chat."""
    port = free_port()
    botapi.webhook_host = f"http://127.0.0.1:{port}"
    settings = make_settings(
        botapi,
        database_url,
        default_locale="en",
        webhook_url="https://help.example.org/qorgau/telegram",
        webhook_secret="hook-secret",
        port=port,
    )
    application = build_application(settings)
    stop = asyncio.Event()
    server = asyncio.create_task(serve_webhook(application, stop))
    try:
        await botapi.wait_for(lambda c: c.method == "setWebhook", timeout=20)
        user = User(4300)
        await answered(botapi, user.id, botapi.send(user, "/start"))
        for label in [*REPORT, "description", *AFTER_DESCRIPTION, "Send"]:
            action: Awaitable[object]
            if label == "description":
                action = botapi.send(user, "A neighbour shouts at my children.")
            else:
                screen = botapi.screen(user.id)
                [data] = [d for text, d in botapi.buttons(screen) if text == label]
                action = botapi.press(user, screen, data)
            await answered(botapi, user.id, action)

        def code_shown() -> str | None:
            return next(
                filter(
                    None,
                    (code_on_screen(m.get("text", "")) for m in botapi.messages[user.id].values()),
                ),
                None,
            )

        for _ in range(100):
            if code_shown():
                break
            await asyncio.sleep(0.05)
        code = code_shown()
        assert code is not None
        card = await botapi.wait_for(
            lambda c: c.method == "sendMessage" and c.params.get("chat_id") == STAFF_CHAT_ID
        )
        assert card.params["text"].startswith(f"<b>{code}</b>")
        assert not any(c.method == "getUpdates" for c in botapi.calls)  # no polling at all
    finally:
        stop.set()
        await ended(server, 20)


async def answered(api: BotApi, chat_id: int, action: Awaitable[object]) -> None:
    """Do what the person does and wait for the bot's next message or edit in their chat."""
    waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    api.chat_waiters[chat_id] = waiter
    await action
    await asyncio.wait_for(waiter, 10)
