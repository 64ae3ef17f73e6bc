"""The last line of defence: log what failed (never the person's data), tell them kindly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback

from telegram import Update
from telegram.error import TelegramError

from bot.app import QorgauContext, database_away
from bot.i18n import pick_locale
from handlers.screens.common import Viewer, clear_without_database, is_exit_press
from handlers.screens.outage import not_sent_yet, sorry_text

log = logging.getLogger("qorgau.errors")

# Updates that failed for the database and whose sender was told (in memory: after a restart
# they may be told again). The update is tried again until the database is back.
_told: set[int] = set()


async def on_error(update: object, context: QorgauContext) -> None:
    error = context.error
    # Only the type and the update id: the exception text may quote the person's message.
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, TelegramError):
        log.warning("telegram error %s on update %s", type(error).__name__, update_id)
    else:
        # The frames, not the message: str(error) may carry what the person wrote.
        frames = "".join(traceback.format_tb(error.__traceback__)) if error else ""
        log.error(
            "handler failed with %s on update %s\n%s", type(error).__name__, update_id, frames
        )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if is_exit_press(update):
        await clear_without_database(update, context)  # they asked for silence: no apology
        return
    if isinstance(error, TelegramError):
        return  # Telegram itself failed: sending more would fail the same way
    away = error is not None and database_away(error)
    if away and update.update_id in _told:
        return  # tried again while the database is still away: they were told once
    if update.effective_chat.type != "private":
        if away:  # a volunteer's answer: it comes again once the database is back
            await tell_not_sent_yet(update, context)
        return
    services = context.services
    locale = (await error_viewer(update, context)).locale
    if away:
        _told.add(update.update_id)
    with contextlib.suppress(TelegramError):
        await context.bot.send_message(
            update.effective_chat.id, sorry_text(services, locale, database_away=away)
        )


async def tell_not_sent_yet(update: Update, context: QorgauContext) -> None:
    """Once per message (it fails again on each try while the database is away)."""
    message = update.effective_message
    if message is None:
        return
    _told.add(update.update_id)
    with contextlib.suppress(TelegramError):
        await message.reply_text(not_sent_yet(context.services))


async def error_viewer(update: Update, context: QorgauContext) -> Viewer:
    """The person's chosen language if it can be read now (the database may be what failed)."""
    services = context.services
    user = update.effective_user
    pseudonym = services.identity.pseudonym(user.id) if user else ""
    stored = None
    if user is not None:
        # Any failure here is the one being reported already: fall back to Telegram's language.
        with contextlib.suppress(Exception):
            stored = await asyncio.wait_for(services.people.stored_locale(pseudonym), 2)
    code = user.language_code if user else None
    locale = pick_locale(stored, code, services.settings.default_locale)
    return Viewer(pseudonym, locale, services.catalogues[locale], services)
