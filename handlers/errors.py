"""The last line of defence: log what failed (never the person's data), tell them kindly."""

from __future__ import annotations

import contextlib
import logging
import traceback

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.app import services_of
from bot.i18n import N_, pick_locale

log = logging.getLogger("qorgau.errors")

SORRY = N_("Sorry, something went wrong on our side. Please try again in a minute.")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    if update.effective_chat.type != "private" or isinstance(error, TelegramError):
        return  # Telegram itself failed: sending more would fail the same way
    services = services_of(context)
    user = update.effective_user
    code = user.language_code if user else None
    locale = pick_locale(None, code, services.settings.default_locale)
    with contextlib.suppress(TelegramError):
        await context.bot.send_message(
            update.effective_chat.id, services.catalogues[locale].gettext(SORRY)
        )
