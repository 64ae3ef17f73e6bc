"""Webhook mode: the secret is checked on every request; /healthz and /metrics answer."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp

from bot.app import build_application
from bot.settings import ConfigError, load_settings
from bot.web import SECRET_HEADER, serve_webhook
from tests.botapi import BotApi
from tests.conftest import make_settings


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
    url = f"http://127.0.0.1:{port}/tg/hook"
    settings = make_settings(
        botapi, database_url, webhook_url=url, webhook_secret="s3cret_Token-1", port=port
    )
    application = build_application(settings)
    stop = asyncio.Event()
    server = asyncio.create_task(serve_webhook(application, stop))
    try:
        registered = await botapi.wait_for(lambda c: c.method == "setWebhook", timeout=20)
        assert registered.params["url"] == url
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
        await asyncio.wait_for(server, 20)


def test_webhook_url_without_a_secret_is_refused() -> None:
    try:
        load_settings(
            _env_file=None,
            bot_token="1:x",
            secret_key="0123456789abcdef",
            staff_chat_id=-1,
            webhook_url="https://example.org/hook",
        )
    except ConfigError as error:
        assert error.lines == ["WEBHOOK_SECRET is missing: it is required with WEBHOOK_URL"]
    else:
        raise AssertionError("a webhook without a secret was accepted")
