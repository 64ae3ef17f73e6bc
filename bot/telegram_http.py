"""Bot API requests over aiohttp instead of PTB's default httpx.

Measured on this project's 2-core machine (`bench/throughput.py`): one Bot API call costs the
bot about 1.8 ms of CPU through httpx and about 0.15 ms through aiohttp, and a button press is
two calls (answer it, edit the screen). aiohttp is already here for the webhook server.
PTB documents `BaseRequest` as the place to plug in another HTTP library; this is that plug.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import aiohttp
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

from bot.ptb_private import ODVInput, chosen

T = TypeVar("T")

log = logging.getLogger("qorgau.telegram")

# PTB's own defaults for HTTPXRequest, so behaviour under a slow Telegram stays the same.
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0


def _sum(*parts: float | None) -> float | None:
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


class AiohttpRequest(BaseRequest):
    def __init__(self, connection_pool_size: int = 256) -> None:
        self._pool_size = connection_pool_size
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return READ_TIMEOUT

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Made here, inside the running loop; PTB may initialize again after a shutdown.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        body: aiohttp.FormData | bytes
        headers: dict[str, str] = {}
        if files:
            body = aiohttp.FormData(request_data.json_parameters if request_data else {})
            for name, (filename, content, mime) in files.items():
                body.add_field(name, content, filename=filename, content_type=mime)
        else:
            # Encoded here: given a dict, aiohttp builds a FormData and a multipart writer
            # (with a random boundary) for each call before it finds it is url-encoded
            # (22 µs a call against 8, measured with timeit).
            body = request_data.url_encoded_parameters().encode() if request_data else b""
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        read = chosen(read_timeout, READ_TIMEOUT)
        write = chosen(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        connect = chosen(connect_timeout, CONNECT_TIMEOUT)
        pool = chosen(pool_timeout, POOL_TIMEOUT)
        # aiohttp has no write timeout: the whole request may take pool + connect + write +
        # read, which is what httpx allows step by step.
        timeout = aiohttp.ClientTimeout(
            total=_sum(pool, connect, write, read), sock_connect=connect, sock_read=read
        )
        # The class name only in errors: an aiohttp message can quote the URL (the token).
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientConnectorError as error:  # never connected: nothing was sent
            raise NetworkError(f"aiohttp.{type(error).__name__}") from error
        except aiohttp.ClientError as error:
            raise NoAnswer(f"aiohttp.{type(error).__name__}") from error


class NoAnswer(NetworkError):
    """The connection broke after the request went out: Telegram may have acted on it."""


def in_doubt(error: Exception) -> bool:
    """No answer came, so whether Telegram took the request is unknown (a timeout, or the
    connection broke): sending it again may deliver it twice."""
    return isinstance(error, TimedOut | NoAnswer)


def permanent(error: Exception) -> bool:
    """Telegram's answer, classified once for the whole bot: a refusal (400 of any kind, 403)
    stays a refusal however often the call is made again; a 429, a 5xx or no answer at all is
    temporary."""
    return isinstance(error, BadRequest | Forbidden | ChatMigrated)


# What Telegram says when the chat itself will not take the bot's messages: the bot is not
# in it (any more), may not write there, or may not open topics. Retrying cannot fix it; an
# admin can.
_CHAT_REFUSALS = ("chat not found", "not enough rights", "have no rights", "admin_required")


def chat_refuses(error: Exception) -> bool:
    """A permanent refusal by the chat as a whole (not by one message)."""
    if isinstance(error, Forbidden | ChatMigrated):
        return True
    return isinstance(error, BadRequest) and any(
        words in error.message.lower() for words in _CHAT_REFUSALS
    )


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked us to wait (PTB gives seconds or a timedelta)."""
    after = error.retry_after
    return after.total_seconds() if isinstance(after, timedelta) else float(after)


async def again_on_hiccup(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int | None,
    longest_wait: float = 30.0,
    stop: asyncio.Event | None = None,
) -> T:
    """Call until Telegram answers, through hiccups: a 429 (waiting as asked, unless that is
    longer than `longest_wait`), a 5xx, a timeout or a dropped connection; waits 0.5, 1, 2 s…
    in between. `attempts=None`: until `stop` is set. A refusal (400 Bad Request, 403) is no
    hiccup and is raised at once."""
    attempt = 0
    while True:
        try:
            return await call()
        except (RetryAfter, NetworkError) as error:  # BadRequest is a NetworkError in PTB
            attempt += 1
            out_of_tries = attempts is not None and attempt >= attempts
            if permanent(error) or out_of_tries or (stop and stop.is_set()):
                raise
            if isinstance(error, RetryAfter):
                wait = retry_after_seconds(error)
                if wait > longest_wait:
                    raise
            else:
                wait = min(0.5 * 2 ** (attempt - 1), longest_wait)
            log.info("Telegram hiccup (%s), again in %.1f s", type(error).__name__, wait)
            await asyncio.sleep(wait)
