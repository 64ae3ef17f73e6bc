"""Telegram-facing flows. Each module registers its own handlers; the order matters:
the intake conversation sees an update before the catch-all handlers of my_cases."""

from __future__ import annotations

from telegram.ext import Application

from handlers import (
    errors,
    housekeeping,
    intake,
    language,
    my_cases,
    privacy,
    quick_exit,
    start,
    tracking,
)


def register(application: Application) -> None:  # type: ignore[type-arg]
    tracking.register(application)
    intake.register(application)
    start.register(application)
    language.register(application)
    privacy.register(application)
    quick_exit.register(application)
    my_cases.register(application)
    housekeeping.register(application)
    application.add_error_handler(errors.on_error)
