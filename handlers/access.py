"""Who may run a handler or press a button: the one access rule of the bot.

`@allowed(ROLES)` wraps a handler: someone whose role is not among ROLES is told no, in
their language, the refusal is written to the audit log, and the handler does not run.
Roles come from the roster, and ADMIN_IDS are admins whatever the roster says.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ConversationHandler

from bot.app import QorgauContext
from bot.i18n import N_
from handlers.screens.common import viewer
from models.enums import SENIOR_ROLES, Role

ADMINS = frozenset({Role.ADMIN})
SENIORS = SENIOR_ROLES
STAFF = frozenset(Role)

REFUSALS = {
    ADMINS: N_("Only admins can do this."),
    SENIORS: N_("Only admins and coordinators can do this."),
    STAFF: N_("Only helpline staff can do this."),
}

Handler = Callable[[Update, QorgauContext], Coroutine[Any, Any, Any]]


async def may(context: QorgauContext, telegram_id: int, roles: frozenset[Role]) -> bool:
    return await context.services.staff.role_of(telegram_id) in roles


async def refuse(update: Update, context: QorgauContext, roles: frozenset[Role], what: str) -> None:
    """Tell them no (an alert on a button, a reply to a message) and audit the attempt."""
    user = update.effective_user
    if user is None:
        return
    await context.services.staff.refused(user.id, what)
    v = await viewer(update, context)
    text = v._(REFUSALS[roles])
    query, message = update.callback_query, update.effective_message
    with contextlib.suppress(TelegramError):  # the refusal itself is not worth a retry loop
        if query is not None:
            await query.answer(text, show_alert=True)
        elif message is not None:
            await message.reply_text(text)


def allowed(roles: frozenset[Role]) -> Callable[[Handler], Handler]:
    """Run the handler only for people whose role is among `roles`."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: QorgauContext) -> Any:
            user = update.effective_user
            if user is None or not await may(context, user.id, roles):
                await refuse(update, context, roles, handler.__name__)
                return ConversationHandler.END
            return await handler(update, context)

        return guarded

    return decorate
