"""Scheduled upkeep that no person triggers: escalation, idle flows, pruning, retention.

Each schedule lives in the database (created_at, escalated_at, a flow's last step), not in
a timer: a restart loses nothing, and with several instances any of them can run it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import cast

from telegram.error import TelegramError

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_, pick_locale
from bot.persistence import DatabasePersistence
from bot.ptb_private import set_conversation_state
from bot.services.directory import stale
from bot.services.intake_form import FLOW_TIMEOUT, IntakeDraft
from bot.services.retention import erase_expired
from handlers.screens.common import Viewer, send_screen
from models.enums import RiskLevel, Role

log = logging.getLogger("qorgau.housekeeping")


async def prune_ids(context: QorgauContext) -> None:
    """Message ids older than 48 hours can no longer be deleted, and update ids older than
    25 hours can no longer come again: forget them."""
    services = context.services
    removed = await services.chat_log.prune()
    log.info("pruned %s message ids older than 48 hours", removed)
    removed = await services.handled_updates.prune()
    log.info("pruned %s handled update ids older than 25 hours", removed)


async def erase_expired_cases(context: QorgauContext) -> None:
    """docs/safety.md, rule 9, daily: erase what retention no longer allows us to keep."""
    services = context.services
    erased = await erase_expired(services.sessions, services.settings.retention_days)
    await services.outbox.prune_sent()
    await services.broadcasts.prune_finished()
    await services.stats.summarise()
    log.info(
        "retention: %s cases, %s messages, %s people links erased",
        erased.cases,
        erased.messages,
        erased.people,
    )


async def escalate(context: QorgauContext) -> None:
    """Post again, with a ping to coordinators and admins, the cases nobody took in time
    (sooner for high and imminent risk)."""
    services, settings = context.services, context.services.settings
    period = timedelta(minutes=settings.escalate_after_minutes)
    sooner = {
        RiskLevel.HIGH: timedelta(minutes=settings.escalate_high_risk_minutes),
        RiskLevel.IMMINENT: timedelta(minutes=settings.escalate_imminent_risk_minutes),
    }
    codes = await services.casework.escalate_due(period, sooner=sooner)
    if codes:
        log.info("escalated %s cases", len(codes))
    # Rapid-response steps past their deadline (docs/rapid-response.md): told once each.
    told = await services.rapid_response.overdue_due()
    if told:
        log.info("rapid response: %s steps past their deadline", told)


async def end_idle_flows(context: QorgauContext) -> None:
    """Flows idle for 30 minutes end with a gentle note; nothing of them is kept.

    Run from the database every minute rather than from a PTB timer: a timer dies with a
    restart, and with several instances only one of them would know the flow's last step.
    """
    application = cast(QorgauApplication, context.application)
    persistence = application.persistence
    assert isinstance(persistence, DatabasePersistence)
    services = application.services
    if not await persistence.any_idle(FLOW_TIMEOUT):
        return
    for handler in application.persistent_conversations():
        assert handler.name is not None
        for key, user_data in await persistence.expire(handler.name, FLOW_TIMEOUT):
            chat_id, user_id = int(key[0]), int(key[-1])
            set_conversation_state(handler, (chat_id, user_id), None)
            application.drop_user_data(user_id)
            chosen = user_data.get("draft", {}).get("locale")
            locale = pick_locale(chosen, None, services.settings.default_locale)
            pseudonym = services.identity.pseudonym(user_id)
            v = Viewer(pseudonym, locale, services.catalogues[locale], services)
            text = v._(timeout_note(IntakeDraft.from_dict(user_data.get("draft") or {})))
            try:
                await send_screen(context, v, chat_id, text)
            except TelegramError as error:  # blocked the bot, say: the flow is ended anyway
                log.info("timeout note not delivered: %s", type(error).__name__)


def timeout_note(draft: IntakeDraft) -> str:
    if draft.is_child:
        return N_(
            "No answer for 30 minutes, so we stopped. Nothing was saved. "
            "Press /start when you want to start again."
        )
    return N_(
        "We paused because there was no answer for 30 minutes. Nothing was saved. "
        "Press /start when you want to begin again."
    )


async def follow_up_referrals(context: QorgauContext, now: datetime | None = None) -> None:
    """Referrals agreed REFERRAL_FOLLOW_UP_DAYS ago: remind the owner, ask the person once."""
    services = context.services
    days = services.settings.referral_follow_up_days
    done = await services.referrals.follow_up_due(days, now)
    if done:
        log.info("referral follow-up: %s referrals", len(done))


async def flag_stale_directory(context: QorgauContext, now: datetime | None = None) -> None:
    """Directory entries past DIRECTORY_MAX_AGE_DAYS: each admin gets the list privately,
    once a week (the job looks daily; the last notice in the outbox is the schedule)."""
    services = context.services
    today = (now or datetime.now(UTC)).date()
    old = stale(services.directory, today, services.settings.directory_max_age_days)
    admins = [m.telegram_id for m in await services.staff.members() if m.role == Role.ADMIN]
    if await services.referrals.flag_stale(old, admins, now):
        log.info("directory: %s entries past their age flagged to admins", len(old))


def register(application: QorgauApplication) -> None:
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    application.job_queue.run_repeating(prune_ids, interval=3600, first=60, name="prune")
    application.job_queue.run_repeating(
        erase_expired_cases, interval=24 * 3600, first=120, name="retention"
    )
    application.job_queue.run_repeating(escalate, interval=60, first=10, name="escalate")
    application.job_queue.run_repeating(end_idle_flows, interval=60, first=30, name="flow-timeout")
    application.job_queue.run_repeating(
        follow_up_referrals, interval=3600, first=90, name="referral-follow-up"
    )
    application.job_queue.run_repeating(
        flag_stale_directory, interval=24 * 3600, first=300, name="directory-age"
    )
