"""Telegram-facing flows. Each module registers its own handlers."""

from __future__ import annotations

from telegram.ext import Application

from handlers import errors, language, start


def register(application: Application) -> None:  # type: ignore[type-arg]
    start.register(application)
    language.register(application)
    application.add_error_handler(errors.on_error)
