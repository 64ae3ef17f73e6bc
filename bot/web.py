"""Webhook mode: an aiohttp server that takes updates from Telegram (secret checked on every
request) and answers /healthz and /metrics (Prometheus text format)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from telegram import Update

from bot.app import ALLOWED_UPDATES, QorgauApplication
from bot.telegram_http import again_on_hiccup
from bot.workers.staff_chat_watch import watch_of

log = logging.getLogger("qorgau.web")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Older than this, a pending outbox message means the sender is stuck: unhealthy.
OUTBOX_STALE_SECONDS = 300
APPLICATION = web.AppKey("application", QorgauApplication)


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


async def telegram_endpoint(request: web.Request) -> web.Response:
    application: QorgauApplication = request.app[APPLICATION]
    secret = application.services.settings.webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if secret is None or not hmac.compare_digest(given, secret.get_secret_value()):
        return web.Response(status=403)
    try:
        update = Update.de_json(await request.json(), application.bot)
    except Exception as error:  # undecodable: drop it, or Telegram resends it forever
        log.warning("webhook: undecodable update (%s)", type(error).__name__)
        return web.Response()
    # Answer Telegram only once the update is handled: a crash before that makes Telegram
    # send it again instead of losing it (the flows are idempotent).
    await application.update_processor.process_update(update, application.process_update(update))
    if update.update_id in application.unhandled:  # the database was away: Telegram resends
        application.unhandled.discard(update.update_id)
        return web.Response(status=503)
    return web.Response()


async def health(application: QorgauApplication) -> tuple[bool, dict[str, object]]:
    services = application.services
    report: dict[str, object] = {}
    try:
        async with services.sessions() as session:
            await session.execute(text("SELECT 1"))
        report["database"] = "ok"
        pending, oldest = await services.outbox.backlog()
        report["outbox_pending"], report["outbox_oldest_seconds"] = pending, round(oldest, 1)
    except Exception as error:
        report["database"] = f"unreachable ({type(error).__name__})"
        return False, report
    refused = watch_of(application).problems
    report["staff_chats"] = {str(chat): problem for chat, problem in refused.items()} or "ok"
    return oldest < OUTBOX_STALE_SECONDS and not refused, report


async def healthz(request: web.Request) -> web.Response:
    ok, report = await health(request.app[APPLICATION])
    return web.json_response(report, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    application: QorgauApplication = request.app[APPLICATION]
    services = application.services
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, value: float, **labels: str) -> None:
        metric = Gauge(name, doc, list(labels), registry=registry)
        (metric.labels(**labels) if labels else metric).set(value)

    gauge("qorgau_updates_handled", "Updates handled since start", application.updates_handled)
    gauge(
        "qorgau_updates_skipped",
        "Updates not handled: resent by Telegram, or the database was away",
        application.updates_skipped,
    )
    gauge("qorgau_updates_in_flight", "Updates being handled now", application.in_flight)
    pending, oldest = await services.outbox.backlog()
    gauge("qorgau_outbox_pending", "Messages owed to staff or people", pending)
    gauge("qorgau_outbox_oldest_seconds", "Age of the oldest pending message", oldest)
    cases = await services.stats.opened()
    rows = (await services.broadcasts.delivery_counts()).items()
    gauge("qorgau_cases_opened", "Cases opened, all time", float(cases))
    broadcast = Gauge(
        "qorgau_broadcast_deliveries",
        "Broadcast deliveries by status",
        ["status"],
        registry=registry,
    )
    for status, count in rows:
        broadcast.labels(status=status).set(count)
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def make_web_app(application: QorgauApplication) -> web.Application:
    settings = application.services.settings
    app = web.Application(client_max_size=1024 * 1024)
    app[APPLICATION] = application
    assert settings.webhook_url is not None
    app.router.add_post(webhook_path(settings.webhook_url), telegram_endpoint)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


@contextlib.asynccontextmanager
async def health_server(application: QorgauApplication) -> AsyncIterator[None]:
    """Polling mode: /healthz on HEALTH_PORT, when it is set."""
    port = application.services.settings.health_port
    if port is None:
        yield
        return
    app = web.Application()
    app[APPLICATION] = application
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def serve_webhook(application: QorgauApplication, stop: asyncio.Event) -> None:
    """Run until `stop` is set: web server up, webhook registered, updates flowing."""
    settings = application.services.settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    runner = web.AppRunner(make_web_app(application), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", settings.port).start()
    try:
        # Migrations and getMe, through Telegram hiccups; then shut down whatever happens.
        await again_on_hiccup(application.initialize, attempts=None, stop=stop)
        try:
            await again_on_hiccup(
                lambda: application.bot.set_webhook(
                    url=settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
                ),
                attempts=None,
                stop=stop,
            )
            await application.start()
            log.info("webhook mode: listening on port %s", settings.port)
            await stop.wait()
            await application.stop()
        finally:
            await application.shutdown()
    finally:
        await runner.cleanup()
