"""Polling that confirms an update to Telegram only after it was handled.

PTB's Updater confirms a batch as soon as it asks for the next one, before the batch is
handled: a crash (kill -9, power loss) then loses those updates, a person's message or a
volunteer's answer among them. Here the offset moves on only once the whole batch is
handled (and its persistence written); updates replayed after a crash are safe because the
flows are idempotent (intake keys, message ids, relay links).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.error import Conflict, TelegramError

from bot.app import ALLOWED_UPDATES, QorgauApplication
from bot.telegram_http import again_on_hiccup

log = logging.getLogger("qorgau.polling")
LONG_POLL_SECONDS = 10


async def poll(application: QorgauApplication, stop: asyncio.Event) -> None:
    """Run the application in polling mode until `stop` is set."""
    await again_on_hiccup(application.initialize, attempts=None, stop=stop)  # migrations, getMe
    try:
        await again_on_hiccup(application.bot.delete_webhook, attempts=None, stop=stop)
        await application.start()
        offset: int | None = None
        fetch: asyncio.Future[tuple[Update, ...]] | None = None
        try:
            while not stop.is_set():
                fetch = asyncio.ensure_future(
                    application.bot.get_updates(
                        offset=offset, timeout=LONG_POLL_SECONDS, allowed_updates=ALLOWED_UPDATES
                    )
                )
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if stop.is_set():
                    break
                try:
                    updates = fetch.result()
                except Conflict:
                    log.error("another poller uses this token (409): scale with webhooks")
                    await asyncio.sleep(5)
                    continue
                except TelegramError as error:
                    log.warning("getUpdates failed: %s", type(error).__name__)
                    await asyncio.sleep(1)
                    continue
                if not updates:
                    continue
                processor = application.update_processor
                await asyncio.gather(
                    *(processor.process_update(u, application.process_update(u)) for u in updates),
                    return_exceptions=True,
                )
                offset = updates[-1].update_id + 1
        finally:
            if fetch is not None and not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, TelegramError):
                    await fetch
            if offset is not None:  # confirm what was handled before going away
                with contextlib.suppress(TelegramError):
                    await application.bot.get_updates(offset=offset, timeout=0)
            await application.stop()
    finally:
        await application.shutdown()
