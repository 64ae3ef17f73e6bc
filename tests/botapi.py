"""A small Telegram Bot API stand-in on 127.0.0.1, owned by the tests.

It speaks HTTP like api.telegram.org does (form-encoded bodies in, JSON out), queues updates
for getUpdates, records every call the bot makes, keeps the messages each chat shows, and can
be told to fail: 403, 429 with retry_after, 500, or a slow answer.

Like Telegram it refuses what it cannot do: a copy of a message that was deleted, a caption over
1,024 characters, a text over 4,096 (counted after HTML parsing); and it answers 429 with
retry_after when the bot sends faster than Telegram allows (see Flood below).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from telegram.constants import ReactionEmoji

BOT_ID = 7000000001
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Qorgau",
    "username": "qorgau_bot",
}

# Parameters PTB sends as JSON (everything else is a raw string, see docs/operations.md).
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
    "scope",
    "reaction",
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


class _ApiError(Exception):
    """A method's own refusal (what Telegram answers with ok: false)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


ADMIN_RIGHTS = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)


def admin_member(user: dict[str, Any], **rights: bool) -> dict[str, Any]:
    """A ChatMemberAdministrator: every right on, but those given (e.g. can_pin_messages=False)."""
    member: dict[str, Any] = {"status": "administrator", "user": user}
    member.update(
        {
            right: rights.get(right, right not in ("can_be_edited", "is_anonymous"))
            for right in ADMIN_RIGHTS
        }
    )
    return member


RESTRICTED_RIGHTS = (
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_send_messages",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_manage_topics",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_edit_tag",
    "can_react_to_messages",
)


def restricted_member(user: dict[str, Any], **rights: bool) -> dict[str, Any]:
    """A ChatMemberRestricted (still a member): every right on, but those given."""
    member: dict[str, Any] = {"status": "restricted", "user": user, "is_member": True}
    member.update({right: rights.get(right, True) for right in RESTRICTED_RIGHTS})
    return {**member, "until_date": 0}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


# Bots may download files up to this size (getFile); bigger ones only by their file_id.
DOWNLOAD_LIMIT = 20 * 1024 * 1024


@dataclass
class StoredFile:
    """A file as Telegram keeps it: sent again by its file_id, it keeps its name."""

    name: str | None
    content: bytes
    size: int


DROP = -1  # Fault status: cut the connection without answering (the call is not carried out)
DROP_AFTER = -2  # Fault status: carry the call out, then cut the connection (no answer)


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None
    delay: float = 0.0


CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")


def _visible_length(text: str, params: dict[str, Any]) -> int:
    """The length Telegram counts: after the HTML markup is parsed away."""
    if str(params.get("parse_mode", "")).upper() == "HTML":
        text = html.unescape(_TAG.sub("", text))
    return len(text)


class Flood:
    """Telegram's flood limits on new messages (sendX, copyX, forwardX), as a leaky bucket per
    scope: about one a second in a private chat (a short burst allowed), 20 a minute in a
    group, 30 a second overall. Over a limit the call is refused with 429 and retry_after."""

    SLACK = 0.05  # seconds: a request may arrive a little before its slot (network jitter)

    def __init__(self) -> None:
        self.private = (1.0, 3)  # (messages a second, burst)
        self.group = (20 / 60, 20)
        self.overall = (30.0, 30)
        self._full_at: dict[object, float] = {}  # scope -> when its bucket is empty again
        self.refused = 0  # 429s given for going too fast

    def _wait(self, scope: object, rate: float, burst: int, now: float) -> float:
        empty_at = max(self._full_at.get(scope, now), now)
        return max(0.0, empty_at + 1 / rate - now - burst / rate - self.SLACK)

    def take(self, chat_id: int) -> int | None:
        """None if the message may go now (and it is counted), else seconds to wait."""
        now = time.monotonic()
        scopes = [("all", *self.overall), (chat_id, *(self.private if chat_id > 0 else self.group))]
        wait = max(self._wait(scope, rate, burst, now) for scope, rate, burst in scopes)
        if wait > 0:
            self.refused += 1
            return max(1, math.ceil(wait))
        for scope, rate, _burst in scopes:
            self._full_at[scope] = max(self._full_at.get(scope, now), now) + 1 / rate
        return None


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
    def __init__(
        self, token: str = "123456:TEST-TOKEN", *, flood: bool = True, long_poll: float = 0.5
    ) -> None:
        self.token = token
        # The longest a getUpdates waits for an update. Telegram holds it for the whole
        # `timeout` the bot asks; the tests cap it (a bot stopping need not wait that long),
        # benchmarks of idle cost do not (bench/relay.py).
        self.long_poll = long_poll
        # How long each getUpdates is on its way before Telegram looks (a slow network), and
        # when each was answered with which update ids.
        self.poll_delay = 0.0
        self.polls: list[tuple[float, list[int]]] = []
        self.flood: Flood | None = Flood() if flood else None
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
        # (chat, thread) -> the service message that opened the topic
        self.topics: dict[tuple[int, int], dict[str, Any]] = {}
        self.closed_topics: set[tuple[int, int]] = set()  # closeForumTopic
        self.blocked: set[int] = set()  # people who blocked the bot
        self.files: dict[str, StoredFile] = {}  # file_id -> file
        self._file_ids = itertools.count(1)
        # Group membership as the bot's rights there allow it to change: who is banned from
        # which chat, the chats where the bot is no admin (banning fails there as on
        # Telegram), and each chat's own admins (nobody but the owner removes those).
        self.banned: dict[int, set[int]] = defaultdict(set)
        self.bot_not_admin: set[int] = set()
        self.chat_admins: dict[int, set[int]] = defaultdict(set)
        # (chat id, user id) -> the ChatMember getChatMember answers; the bot is an
        # administrator with every right it asks for unless a test says otherwise.
        self.chat_members: dict[tuple[int, int], dict[str, Any]] = {}
        self.left: set[int] = set()  # groups the bot is not a member of
        self.no_topic_rights: set[int] = set()  # forums where the bot may not open topics
        # Groups where the bot is a member but may not post (an admin restricted it).
        self.may_not_post: set[int] = set()
        # (chat, message) -> the bot's reaction on it (setMessageReaction), as members see it
        self.reactions: dict[tuple[int, int], list[str]] = {}
        # chat id -> the reactions its admins allow (a chat not listed allows them all)
        self.allowed_reactions: dict[int, set[str]] = {}
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
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
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
        uploaded: dict[str, str] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                uploaded[key] = value.filename
                raw[key] = value.file.read()
            else:
                raw[key] = value
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
        if uploaded:
            params["_uploaded_names"] = uploaded  # the name each uploaded file was given
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
            failed = await self._fail(request, method, params, fault)
            if failed is not None:
                return failed
        handler = getattr(self, f"_m_{method}", None)
        try:
            result = await handler(params) if handler else True
        except _ApiError as error:
            return self._error(error.status, error.description)
        await self._notify()
        if isinstance(result, web.Response):  # the method refused, as Telegram would
            return result
        return web.json_response({"ok": True, "result": result})

    async def _fail(
        self, request: web.Request, method: str, params: dict[str, Any], fault: Fault
    ) -> web.Response | None:
        """Answer as the fault says (None: a delay only, then the call goes through)."""
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
        return None

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        chat_id = params.get("chat_id")
        if method.startswith(("send", "copy")) and chat_id in self.blocked:
            return Fault(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.left and method != "getMe":
            return Fault(403, "Forbidden: bot is not a member of the supergroup chat")
        if chat_id in self.may_not_post and method.startswith(("send", "copy", "forward")):
            return Fault(400, "Bad Request: not enough rights to send text messages to the chat")
        if method == "createForumTopic" and chat_id in self.no_topic_rights:
            return Fault(400, "Bad Request: not enough rights to create a topic")
        thread = params.get("message_thread_id")
        if thread and (chat_id, thread) in self.deleted_topics:
            return Fault(400, "Bad Request: message thread not found")
        if self.faults[method]:
            return self.faults[method].popleft()
        if self.fault_rule and method != "getUpdates":
            fault = self.fault_rule(method, params)
            if fault is not None:
                return fault
        return self._refusal(method, params)

    def _refusal(self, method: str, params: dict[str, Any]) -> Fault | None:
        """What Telegram itself refuses: too long, nothing to copy, too fast."""
        if len(params.get("text") or "") and _visible_length(params["text"], params) > TEXT_LIMIT:
            return Fault(400, "Bad Request: message is too long")
        caption = params.get("caption") or ""
        if caption and _visible_length(caption, params) > CAPTION_LIMIT:
            return Fault(400, "Bad Request: message caption is too long")
        if method == "copyMessage":
            source = self.messages[int(params["from_chat_id"])].get(int(params["message_id"]))
            if source is None:
                return Fault(400, "Bad Request: message to copy not found")
        if self.flood is not None and method.startswith(("send", "copy", "forward")):
            wait = self.flood.take(int(params["chat_id"]))
            if wait is not None:
                return Fault(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
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
        if self.poll_delay:
            await asyncio.sleep(self.poll_delay)
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            timeout = min(float(params.get("timeout") or 0), self.long_poll)
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    has_updates = self._changed.wait_for(
                        lambda: bool(self._updates) or self._closing
                    )
                    await asyncio.wait_for(has_updates, timeout)
        updates = list(self._updates[: int(params.get("limit") or 100)])
        self.polls.append((time.monotonic(), [u["update_id"] for u in updates]))
        return updates

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
            if chat_id in self.forums:  # as Telegram marks a message sent into a topic
                message["is_topic_message"] = True
        # As Telegram shows them on the Message: cannot be forwarded or saved; media hidden
        # behind a spoiler (sendPhoto, sendVideo, sendAnimation take has_spoiler;
        # copyMessage does not, but a copy keeps the original's).
        if params.get("protect_content"):
            message["has_protected_content"] = True
        if params.get("has_spoiler"):
            message["has_media_spoiler"] = True
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
        given = params["photo"]
        if isinstance(given, str) and not given.startswith("http") and given not in self.files:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        file_id = given if isinstance(given, str) else "photo-file"  # an upload: a new file
        photo = [{"file_id": file_id, "file_unique_id": "p", "width": 1, "height": 1}]
        return self._new_message(params, photo=photo, caption=params.get("caption", ""))

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "document")

    async def _m_sendVideo(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "video")

    async def _m_sendAnimation(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "animation")

    def _send_file(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        given = params[kind]
        if isinstance(given, bytes):  # an upload: a new file, under the name it was given
            name = params.get("_uploaded_names", {}).get(kind)
            file_id = self.store_file(StoredFile(name, given, len(given)))
        else:  # a file_id (or a URL): the file as it is, name and all
            file_id = str(given)
        stored = self.files.get(file_id)
        sent: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u-{file_id}"}
        if kind in ("video", "animation"):  # Telegram measures them
            sent.update(width=640, height=480, duration=5)
        if stored is not None:
            sent["file_size"] = stored.size
            if stored.name:
                sent["file_name"] = stored.name
        content = {kind: sent, "caption": params.get("caption", "")}
        return self._new_message(params, **content)

    def store_file(self, stored: StoredFile) -> str:
        file_id = f"stored-{next(self._file_ids)}"
        self.files[file_id] = stored
        return file_id

    def file_content(self, file_id: str) -> bytes:
        return self.files[file_id].content

    async def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        stored = self.files.get(file_id)
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        if stored.size > DOWNLOAD_LIMIT:
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": stored.size,
            "file_path": f"documents/{file_id}",
        }

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        stored = self.files.get(file_id)
        if stored is None or stored.size > DOWNLOAD_LIMIT:
            return web.Response(status=404)
        return web.Response(body=stored.content)

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

    async def _m_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["user_id"]))
        if key in self.chat_members:
            return self.chat_members[key]
        if key[1] == BOT_ID and key[0] in self.may_not_post:
            return restricted_member(BOT_USER, can_send_messages=False)
        if key[1] == BOT_ID:
            return admin_member(BOT_USER, can_manage_topics=key[0] not in self.no_topic_rights)
        return {"status": "member", "user": {"id": key[1], "is_bot": False, "first_name": "T"}}

    async def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_copyMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        source = self.messages[int(params["from_chat_id"])].get(int(params["message_id"]))
        assert source is not None  # refused in _refusal
        content = {
            k: v
            for k, v in source.items()
            if k
            in (
                "text",
                "photo",
                "document",
                "voice",
                "video",
                "animation",
                "sticker",
                "caption",
                "has_media_spoiler",
            )
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

    async def _m_setMessageReaction(self, params: dict[str, Any]) -> bool:
        """As Telegram: the message must exist, the emoji must be one of the standard
        reactions (and allowed in the chat), and a bot sets at most one."""
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        if message_id not in self.messages[chat_id]:
            raise _ApiError(400, "Bad Request: message to react not found")
        emojis = [r.get("emoji", "") for r in params.get("reaction") or []]
        allowed = self.allowed_reactions.get(chat_id, set(ReactionEmoji))
        if any(emoji not in allowed for emoji in emojis):
            raise _ApiError(400, "Bad Request: REACTION_INVALID")
        if len(emojis) > 1:
            raise _ApiError(400, "Bad Request: REACTIONS_TOO_MANY")
        self.reactions[(chat_id, message_id)] = emojis
        return True

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

    def _may_ban(self, params: dict[str, Any]) -> web.Response | None:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        if chat_id in self.bot_not_admin:
            return self._error(400, "Bad Request: not enough rights to restrict/ban chat member")
        if user_id in self.chat_admins[chat_id]:
            return self._error(400, "Bad Request: user is an administrator of the chat")
        return None

    async def _m_banChatMember(self, params: dict[str, Any]) -> bool | web.Response:
        return self._membership(params, banned=True)

    async def _m_unbanChatMember(self, params: dict[str, Any]) -> bool | web.Response:
        return self._membership(params, banned=False)

    def _membership(self, params: dict[str, Any], *, banned: bool) -> bool | web.Response:
        refused = self._may_ban(params)
        if refused is not None:
            return refused
        chat = self.banned[int(params["chat_id"])]
        (chat.add if banned else chat.discard)(int(params["user_id"]))
        return True

    async def _m_createForumTopic(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        thread = next(self._message_ids[chat_id])
        topic = {"name": params["name"], "icon_color": 7322096}
        # The service message that opens the topic: plain messages in it answer this one.
        self.topics[(chat_id, thread)] = {
            "message_id": thread,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "supergroup", "title": "Staff", "is_forum": True},
            "from": BOT_USER,
            "message_thread_id": thread,
            "is_topic_message": True,
            "forum_topic_created": topic,
        }
        return {"message_thread_id": thread, **topic}

    async def _m_closeForumTopic(self, params: dict[str, Any]) -> bool | web.Response:
        return self._topic_state(params, closed=True)

    async def _m_reopenForumTopic(self, params: dict[str, Any]) -> bool | web.Response:
        return self._topic_state(params, closed=False)

    def _topic_state(self, params: dict[str, Any], *, closed: bool) -> bool | web.Response:
        """As Telegram: a topic that is not there is refused; one already in that state too
        (TOPIC_NOT_MODIFIED); the bot needs can_manage_topics."""
        key = (int(params["chat_id"]), int(params["message_thread_id"]))
        if key[0] in self.no_topic_rights:
            return self._error(400, "Bad Request: not enough rights to manage topics")
        if key not in self.topics or key in self.deleted_topics:
            return self._error(400, "Bad Request: TOPIC_ID_INVALID")
        if (key in self.closed_topics) == closed:
            return self._error(400, "Bad Request: TOPIC_NOT_MODIFIED")
        (self.closed_topics.add if closed else self.closed_topics.discard)(key)
        return True

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
        self._keep_files(message)
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
        if user.id in self.banned[chat_id]:
            raise PermissionError(f"{user.id} is banned from {chat_id}: Telegram refuses them")
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": "Staff"}
        if chat_id in self.forums:
            chat["is_forum"] = True
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": chat,
            "from": user.as_dict(),
            **extra,
        }
        self._keep_files(message)
        if text:
            message["text"] = text
        # As Telegram marks a command at the start of a text or a caption.
        for field_name, entities in (("text", "entities"), ("caption", "caption_entities")):
            words = str(message.get(field_name) or "")
            if words.startswith("/") and entities not in message:
                length = len(words.split()[0])
                message[entities] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is None and thread is not None:
            # As Telegram does: a plain message in a topic answers the topic's first message.
            reply_to = self.topics.get((chat_id, thread))
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        self.messages[chat_id][message["message_id"]] = message
        await self._push({"message": message})
        return message

    def _keep_files(self, message: dict[str, Any]) -> None:
        """A file someone sends is on Telegram's servers from then on, under its name (and
        stays there when the message is deleted: its file_id still sends it)."""
        for size in message.get("photo") or []:
            content = f"photo content of {size['file_id']}".encode()
            self.files.setdefault(size["file_id"], StoredFile(None, content, len(content)))
        for kind in ("document", "video", "animation", "audio"):
            sent = message.get(kind)
            if sent is not None and sent["file_id"] not in self.files:
                content = f"{kind} content of {sent['file_id']}".encode()
                size = int(sent.get("file_size") or len(content))
                self.files[sent["file_id"]] = StoredFile(sent.get("file_name"), content, size)

    async def bot_added(
        self, user: User, chat_id: int, member: dict[str, Any], *, title: str = "Staff"
    ) -> int:
        """`user` adds the bot to a group or changes its rights there (my_chat_member)."""
        self.chat_members[(chat_id, BOT_ID)] = member
        return await self._bot_moved(user, chat_id, title, {"status": "left"}, member)

    async def bot_removed(self, user: User, chat_id: int) -> int:
        """`user` removes the bot from a group: it may no longer post there, and Telegram
        tells the bot (my_chat_member, "left")."""
        self.left.add(chat_id)
        was = self.chat_members.pop((chat_id, BOT_ID), admin_member(BOT_USER))
        return await self._bot_moved(user, chat_id, "Staff", was, {"status": "left"})

    async def _bot_moved(
        self, user: User, chat_id: int, title: str, old: dict[str, Any], new: dict[str, Any]
    ) -> int:
        """The my_chat_member update Telegram sends when the bot's membership changes."""
        update = await self._push(
            {
                "my_chat_member": {
                    "chat": {"id": chat_id, "type": "supergroup", "title": title},
                    "from": user.as_dict(),
                    "date": int(time.time()),
                    "old_chat_member": {"user": BOT_USER, **old},
                    "new_chat_member": {"user": BOT_USER, **new},
                }
            }
        )
        return int(update["update_id"])

    def person_deletes(self, chat_id: int, message_id: int) -> None:
        """Someone deletes their own message (a copy of it can no longer be made)."""
        self.messages[chat_id].pop(message_id, None)

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
