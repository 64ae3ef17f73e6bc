"""Scheduled upkeep that no person triggers."""

from __future__ import annotations

import logging

from telegram.ext import ContextTypes

from bot.app import QorgauApplication, services_of
from bot.services.retention import erase_expired

log = logging.getLogger("qorgau.housekeeping")


async def prune_ids(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Message ids older than 48 hours can no longer be deleted, and update ids older than
    25 hours can no longer come again: forget them."""
    services = services_of(context)
    removed = await services.chat_log.prune()
    log.info("pruned %s message ids older than 48 hours", removed)
    removed = await services.handled_updates.prune()
    log.info("pruned %s handled update ids older than 25 hours", removed)


async def erase_expired_cases(context: ContextTypes.DEFAULT_TYPE) -> None:
    """SPEC safety rule 9, daily: erase what retention no longer allows us to keep."""
    services = services_of(context)
    erased = await erase_expired(services.sessions, services.settings.retention_days)
    log.info(
        "retention: %s cases, %s messages, %s people links erased",
        erased.cases,
        erased.messages,
        erased.people,
    )


def register(application: QorgauApplication) -> None:
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    application.job_queue.run_repeating(prune_ids, interval=3600, first=60, name="prune")
    application.job_queue.run_repeating(
        erase_expired_cases, interval=24 * 3600, first=120, name="retention"
    )
