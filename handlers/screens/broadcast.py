"""What broadcasts look like: the message subscribers get and the admin's progress message."""

from __future__ import annotations

from typing import Any

from babel.support import Translations
from telegram import InlineKeyboardMarkup

from bot.app import Services
from bot.i18n import N_
from bot.rate_limiter import Paced
from bot.services.broadcasts import Progress
from handlers import callbacks
from handlers.callbacks import ProgressAction, ProgressButton
from handlers.screens.common import EXIT, button

STATUS = {
    "running": N_("sending"),
    "paused": N_("paused"),
    "cancelled": N_("cancelled"),
    "done": N_("done"),
    "night": N_("waiting for the morning (quiet hours)"),
    "scheduled": N_("scheduled"),
}


def broadcast_markup(services: Services, locale: str) -> InlineKeyboardMarkup:
    t = services.catalogues[locale]
    return InlineKeyboardMarkup(
        [
            [button(t.gettext("Unsubscribe"), callbacks.subscription(False))],
            [button(t.gettext(EXIT), callbacks.EXIT)],
        ]
    )


async def send_version(
    context_bot: Any,
    services: Services,
    chat_id: int,
    version: dict[str, Any],
    locale: str,
    *,
    paced: bool = False,
) -> int:
    """Send one version exactly as subscribers get it: silently, with its buttons. `paced`:
    the broadcaster's own pacing holds it (the rate limiter only counts it, see Paced)."""
    markup = broadcast_markup(services, locale)
    limits = {"rate_limit_args": Paced()} if paced else {}
    if version.get("photo"):
        sent = await context_bot.send_photo(
            chat_id,
            version["photo"],
            caption=version.get("text") or None,
            disable_notification=True,
            reply_markup=markup,
            **limits,
        )
    else:
        sent = await context_bot.send_message(
            chat_id, version["text"], disable_notification=True, reply_markup=markup, **limits
        )
    return int(sent.message_id)


def progress_screen(
    t: Translations, broadcast_id: int, progress: Progress, rate: float, status: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    c = progress.counts
    minutes_left = round(progress.left / max(rate, 0.1) / 60) if progress.left else 0
    text = t.gettext(
        "Broadcast #{number}: {status}\n"
        "Sent: {sent} · failed: {failed} · blocked: {blocked} · skipped: {skipped}\n"
        "Left: {left} of {total}\n"
        "Rate: {rate} per second · about {minutes} min left"
    ).format(
        number=broadcast_id,
        status=t.gettext(STATUS.get(status, status)),
        sent=c.get("sent", 0),
        failed=c.get("failed", 0) + c.get("unknown", 0),
        blocked=c.get("blocked", 0),
        skipped=c.get("skipped", 0),
        left=progress.left,
        total=progress.total,
        rate=f"{rate:.1f}",
        minutes=minutes_left,
    )
    cancel = ProgressAction.CANCEL
    buttons = {
        "running": [(t.gettext("Pause"), ProgressAction.PAUSE), (t.gettext("Cancel"), cancel)],
        "paused": [(t.gettext("Resume"), ProgressAction.RESUME), (t.gettext("Cancel"), cancel)],
    }.get(status, [])
    if not buttons:
        return text, None
    row = [button(label, ProgressButton(broadcast_id, action).data) for label, action in buttons]
    return text, InlineKeyboardMarkup([row])
