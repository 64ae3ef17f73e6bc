"""A small Telegram Bot API stand-in on 127.0.0.1, owned by the tests.

It speaks HTTP like api.telegram.org does (form-encoded bodies in, JSON out), queues updates
for getUpdates, records every call the bot makes, keeps the messages each chat shows, and can
be told to fail: 403, 429 with retry_after, 500, or a slow answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "Qorgau", "username": "qorgau_bot"}

# Parameters PTB sends as JSON (everything else is a raw string, see SPEC.md).
_JSON_PARAMS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "allowed_updates",
    "message_ids",
    "commands",
    "media",
    "link_preview_options",
    "reply_parameters",
}
_INT_PARAMS = {
    "chat_id",
    "from_chat_id",
    "message_id",
    "message_thread_id",
    "offset",
    "limit",
    "timeout",
    "user_id",
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


DROP = -1  # Fault status: cut the connection without answering (the call is not carried out)
DROP_AFTER = -2  # Fault status: carry the call out, then cut the connection (no answer)


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class User:
    id: int
    first_name: str = "Test"
    language_code: str | None = "en"
    username: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        if self.username:
            data["username"] = self.username
        return data


class BotApi:
    def __init__(self, token: str = "123456:TEST-TOKEN") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.fault_rule: Callable[[str, dict[str, Any]], Fault | None] | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        # chat id -> message id -> message as the chat shows it now
        self.messages: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.deleted: dict[int, set[int]] = defaultdict(set)
        self.forums: set[int] = set()  # supergroups with topics enabled
        self.deleted_topics: set[tuple[int, int]] = set()
        self.blocked: set[int] = set()  # people who blocked the bot
        # chat id -> future resolved by the bot's next message or edit there (benchmarks)
        self.chat_waiters: dict[int, asyncio.Future[float]] = {}
        # Webhook delivery, as Telegram does it once setWebhook is called: only when a test
        # says where the registered (public) URL's path is served locally.
        self.webhook_host: str | None = None  # e.g. "http://127.0.0.1:8443"
        self.webhook_connections = 40  # Telegram's default max_connections
        self._webhook: tuple[str, str] | None = None  # local URL, secret
        self._deliveries: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._delivering: asyncio.Semaphore | None = None
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- server -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._closing = True  # a long poll still waiting returns now, not at its timeout
        await self._notify()
        for task in self._deliveries:
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._runner:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        for key, value in form.items():
            raw[key] = value if isinstance(value, str) else value.file.read()  # type: ignore[union-attr]
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _JSON_PARAMS and isinstance(value, str):
                params[key] = json.loads(value)
            elif key in _INT_PARAMS and isinstance(value, str):
                try:
                    params[key] = int(value)
                except ValueError:
                    params[key] = value
            elif value in ("true", "false") and key not in ("text", "caption"):
                params[key] = value == "true"
            else:
                params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        fault = self._take_fault(method, params)
        if method != "getUpdates":
            self.calls.append(Call(method, params))
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status in (DROP, DROP_AFTER):
                # The connection dies without an answer, as on a network failure: before
                # Telegram did anything, or after (the bot cannot tell which).
                if fault.status == DROP_AFTER and (handler := getattr(self, f"_m_{method}", None)):
                    await handler(params)
                    await self._notify()
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)
            if fault.status:
                await self._notify()
                return self._error(fault.status, fault.description, fault.retry_after)
        handler = getattr(self, f"_m_{method}", None)
        result = await handler(params) if handler else True
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        chat_id = params.get("chat_id")
        if method.startswith(("send", "copy")) and chat_id in self.blocked:
            return Fault(403, "Forbidden: bot was blocked by the user")
        thread = params.get("message_thread_id")
        if thread and (chat_id, thread) in self.deleted_topics:
            return Fault(400, "Bad Request: message thread not found")
        if self.faults[method]:
            return self.faults[method].popleft()
        if self.fault_rule and method != "getUpdates":
            return self.fault_rule(method, params)
        return None

    @staticmethod
    def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- Bot API methods -------------------------------------------------------------------------

    async def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False}

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            timeout = min(float(params.get("timeout") or 0), 0.5)
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    has_updates = self._changed.wait_for(
                        lambda: bool(self._updates) or self._closing
                    )
                    await asyncio.wait_for(has_updates, timeout)
        return list(self._updates[: int(params.get("limit") or 100)])

    async def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        if self.webhook_host is not None:
            local = self.webhook_host + (urlsplit(str(params["url"])).path or "/")
            self._webhook = (local, str(params.get("secret_token", "")))
            self._delivering = asyncio.Semaphore(self.webhook_connections)
            for update in self._updates:  # queued while there was no webhook
                self._deliver(update)
            self._updates.clear()
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self._webhook = None
        return True

    def _deliver(self, update: dict[str, Any]) -> None:
        task = asyncio.create_task(self._post_update(update))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _post_update(self, update: dict[str, Any]) -> None:
        """POST one update to the webhook until it is answered with 200, as Telegram does
        (it keeps trying while the bot is down)."""
        assert self._webhook is not None and self._delivering is not None
        if self._http is None:
            self._http = aiohttp.ClientSession()
        url, secret = self._webhook
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with self._delivering:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with self._http.post(url, json=update, headers=headers) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
            **content,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
        self.messages[chat_id][message["message_id"]] = message
        self._wake_chat(chat_id)
        return message

    def _wake_chat(self, chat_id: int) -> None:
        waiter = self.chat_waiters.pop(chat_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(time.monotonic())

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        extra = {}
        if "reply_parameters" in params:
            extra["reply_to"] = params["reply_parameters"].get("message_id")
        return self._new_message(params, text=params["text"], **extra)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = [{"file_id": "photo-file", "file_unique_id": "p", "width": 1, "height": 1}]
        return self._new_message(params, photo=photo, caption=params.get("caption", ""))

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        document = {"file_id": "doc-file", "file_unique_id": "d"}
        return self._new_message(params, document=document, caption=params.get("caption", ""))

    async def _m_getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Person"}
        return {
            "id": chat_id,
            "type": "supergroup",
            "title": "Staff",
            "is_forum": chat_id in self.forums,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _m_copyMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        source = self.messages[int(params["from_chat_id"])].get(int(params["message_id"]))
        if source is None:
            return {"message_id": 0}  # never reached: a missing source is a fault in tests
        content = {
            k: v
            for k, v in source.items()
            if k in ("text", "photo", "document", "voice", "video", "sticker", "caption")
        }
        if "caption" in params:
            content["caption"] = params["caption"]
        if "reply_parameters" in params:
            content["reply_to"] = params["reply_parameters"].get("message_id")
        message = self._new_message(params, **content, copied_from=params["message_id"])
        return {"message_id": message["message_id"]}

    async def _edit(self, params: dict[str, Any], **content: Any) -> dict[str, Any] | bool:
        chat_id = int(params["chat_id"])
        message = self.messages[chat_id].get(int(params["message_id"]))
        if message is None:
            return True
        message.update(content)
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        self._wake_chat(chat_id)
        return message

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        return await self._edit(params, text=params["text"])

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        return await self._edit(params)

    async def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat_id = int(params["chat_id"])
        self.messages[chat_id].pop(int(params["message_id"]), None)
        self.deleted[chat_id].add(int(params["message_id"]))
        return True

    async def _m_deleteMessages(self, params: dict[str, Any]) -> bool:
        chat_id = int(params["chat_id"])
        for message_id in params["message_ids"]:
            self.messages[chat_id].pop(int(message_id), None)
            self.deleted[chat_id].add(int(message_id))
        return True

    async def _m_createForumTopic(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = next(self._message_ids[int(params["chat_id"])])
        return {"message_thread_id": thread, "name": params["name"], "icon_color": 7322096}

    # -- what a person does ------------------------------------------------------------------

    async def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        update["update_id"] = next(self._update_ids)
        if self._webhook is not None:
            self._deliver(update)
        else:
            self._updates.append(update)
        await self._notify()
        return update

    async def push_raw(self, update: dict[str, Any]) -> int:
        """Any update at all, as Telegram (or someone pretending) might send it."""
        return int((await self._push(update))["update_id"])

    async def send(self, user: User, text: str, **extra: Any) -> dict[str, Any]:
        """The person writes `text` in their private chat with the bot."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[user.id]),
            "date": int(time.time()),
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": user.as_dict(),
            **extra,
        }
        if text:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self.messages[user.id][message["message_id"]] = message
        await self._push({"message": message})
        return message

    async def send_in_group(
        self,
        user: User,
        chat_id: int,
        text: str = "",
        *,
        reply_to: dict[str, Any] | None = None,
        thread: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A staff member writes in a staff supergroup (optionally replying, or in a topic)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "supergroup", "title": "Staff"},
            "from": user.as_dict(),
            **extra,
        }
        if text:
            message["text"] = text
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        self.messages[chat_id][message["message_id"]] = message
        await self._push({"message": message})
        return message

    async def press(self, user: User, message: dict[str, Any], data: str) -> None:
        await self._push(
            {
                "callback_query": {
                    "id": str(next(self._update_ids)),
                    "from": user.as_dict(),
                    "message": message,
                    "chat_instance": f"ci{user.id}",
                    "data": data,
                }
            }
        )

    # -- what the tests look at ----------------------------------------------------------------

    def screen(self, chat_id: int) -> dict[str, Any]:
        """The newest message from the bot in the chat (what the person is looking at)."""
        from_bot = [m for m in self.messages[chat_id].values() if m["from"]["is_bot"]]
        assert from_bot, f"the bot has shown nothing in chat {chat_id}"
        return max(from_bot, key=lambda m: m["message_id"])

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", b.get("url", ""))) for row in rows for b in row]

    async def wait_for(
        self, predicate: Callable[[Call], bool], *, after: int = 0, timeout: float = 5.0
    ) -> Call:
        """The first call (from index `after`) that matches; fails after `timeout` seconds."""

        def found() -> Call | None:
            return next((c for c in self.calls[after:] if predicate(c)), None)

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
            except TimeoutError:
                seen = [(c.method, c.params.get("text", "")[:60]) for c in self.calls[after:]]
                raise AssertionError(f"no matching call within {timeout}s; saw {seen}") from None
        result = found()
        assert result is not None
        return result
