"""Outbox rows of urgent cases (docs/rapid-response.md), delivered by the outbox sender:
the private ping to each coordinator, admin and on-duty member of the case's role; the
rapid-response steps under a child's card; a missed deadline, with coordinators and admins
mentioned."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden

from bot.db import Statement
from bot.services.outbox import OutboxItem
from bot.services.rapid_response import STEP_OVERDUE, STEPS_MESSAGE, URGENT_PING
from bot.services.urgency import Facts
from handlers.screens.rapid_response import (
    overdue_text,
    steps_keyboard,
    steps_text,
    urgent_ping_text,
)
from handlers.screens.staff_cards import mention
from models import Case
from models.enums import SENIOR_ROLES

if TYPE_CHECKING:
    from bot.workers.outbox_sender import Sender

log = logging.getLogger("qorgau.delivery")


def _about_a_child(case: Case) -> bool:
    return Facts(case.kind, case.category, case.age_band, case.affected).about_a_child


async def urgent_ping(sender: Sender, item: OutboxItem) -> list[Statement]:
    """To one staff member, privately, on duty or not."""
    case = await sender._case(item)
    if case.status != "open" or case.taken_by is not None:
        return []  # taken or closed before the ping went: nothing to call anyone to
    text = urgent_ping_text(sender.staff_t, case.code, child=_about_a_child(case))
    try:
        await sender.bot.send_message(int(item.payload["staff"]), text)
    except (Forbidden, BadRequest) as error:
        # A member who never opened the bot privately (or blocked it) cannot be written to:
        # trying again would not change that, and it is no fault of the staff chat. The
        # card's mention in the staff chat still reaches them.
        log.warning("urgent ping not delivered to a staff member: %s", type(error).__name__)
    return []


async def steps_message(sender: Sender, item: OutboxItem) -> list[Statement]:
    """The steps under the card, each not yet done as a button."""
    case = await sender._ensure_card(await sender._case(item))
    assert case.staff_chat_id is not None
    services = sender.services
    states = await services.rapid_response.steps(case.id)
    names = {m.telegram_id: m.name for m in await services.staff.members()}
    locale = services.settings.default_locale
    zone = ZoneInfo(services.settings.broadcast_timezone)
    text = steps_text(sender.staff_t, locale, zone, case.code, states, names)
    await sender.bot.send_message(
        case.staff_chat_id,
        (sender._repeat_mark() if item.uncertain else "") + text,
        parse_mode=ParseMode.HTML,
        reply_markup=steps_keyboard(locale, case.code, states),
        **sender._where(case),
    )
    return []


async def step_overdue(sender: Sender, item: OutboxItem) -> list[Statement]:
    """Under the card: a step missed its deadline; coordinators and admins mentioned."""
    case = await sender._ensure_card(await sender._case(item))
    assert case.staff_chat_id is not None
    services = sender.services
    seniors = [m for m in await services.staff.members() if m.role in SENIOR_ROLES]
    text = overdue_text(
        sender.staff_t,
        services.settings.default_locale,
        case.code,
        str(item.payload["step"]),
        [mention(m) for m in seniors],
    )
    await sender.bot.send_message(
        case.staff_chat_id, text, parse_mode=ParseMode.HTML, **sender._where(case)
    )
    return []


DELIVERIES: dict[str, Callable[[Sender, OutboxItem], Awaitable[list[Statement]]]] = {
    URGENT_PING: urgent_ping,
    STEPS_MESSAGE: steps_message,
    STEP_OVERDUE: step_overdue,
}
