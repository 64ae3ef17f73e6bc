"""Telegram-facing flows. Each module registers its own handlers; the order matters:
the intake conversation sees an update before the catch-all handlers of my_cases."""

from __future__ import annotations

from bot.app import QorgauApplication
from handlers import (
    broadcast,
    delivery,
    errors,
    guard,
    housekeeping,
    intake,
    language,
    my_cases,
    privacy,
    quick_exit,
    rights,
    staff_admin,
    staff_chat,
    start,
    stats,
    subscriptions,
    tracking,
)


def register(application: QorgauApplication) -> None:
    guard.register(application)
    tracking.register(application)
    staff_admin.register(application)  # before start: /start inv_… joins the staff
    intake.register(application)
    broadcast.register(application)
    start.register(application)
    language.register(application)
    privacy.register(application)
    subscriptions.register(application)
    rights.register(application)
    stats.register(application)
    quick_exit.register(application)
    my_cases.register(application)
    housekeeping.register(application)
    staff_chat.register(application)
    delivery.register(application)
    application.add_error_handler(errors.on_error)
