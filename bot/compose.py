"""The composition root: the one place that knows every part. Production (bot/__main__.py),
the tests and the benchmarks build the bot here, the same way."""

from __future__ import annotations

from typing import cast

from telegram.ext import ApplicationBuilder

import bot.workers
import handlers
from bot.app import CONTEXT_TYPES, MAX_CONCURRENT_UPDATES, QorgauApplication, Services, file_url_for
from bot.persistence import DatabasePersistence
from bot.processing import PerChatUpdateProcessor
from bot.rate_limiter import ChatRateLimiter
from bot.settings import Settings
from bot.telegram_http import AiohttpRequest


def build_application(settings: Settings) -> QorgauApplication:
    services = Services.create(settings)
    application = cast(
        QorgauApplication,
        ApplicationBuilder()
        .application_class(QorgauApplication)
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .base_file_url(file_url_for(settings.telegram_api_url))
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .context_types(CONTEXT_TYPES)
        .persistence(DatabasePersistence(services.engine, services.identity))
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .rate_limiter(ChatRateLimiter())
        .build(),
    )
    application.services = services
    application.workers, application.background = [], []
    application.unhandled = set()
    application.ended_here = set()
    bot.workers.register(application)
    handlers.register(application)
    return application
