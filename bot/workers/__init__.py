"""Background work no person waits on: the outbox sender, the broadcaster, scheduled sweeps.

Workers drive services and send through the application's bot; they sit below the flows
(handlers/flows never start them) and above the screens they render with."""

from __future__ import annotations

from bot.app import QorgauApplication
from bot.workers import broadcaster, outbox_sender, staff_chat_watch, sweeps


def register(application: QorgauApplication) -> None:
    outbox_sender.register(application)
    broadcaster.register(application)
    sweeps.register(application)
    staff_chat_watch.register(application)
