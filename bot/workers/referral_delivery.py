"""Outbox rows of referrals, rights pages and directory upkeep (issue 17), delivered by the
outbox sender like every other message the bot owes: person-bound ones in the person's
language with "Exit and clear chat", staff-bound ones under the case's card."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html import escape
from typing import TYPE_CHECKING

from babel.support import Translations
from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden

from bot.db import Statement
from bot.i18n import N_
from bot.services.directory import Service, by_id
from bot.services.outbox import OutboxItem
from bot.services.referrals import DIRECTORY_NOTICE, writes_as_child
from bot.services.rights import PAGES
from handlers.callbacks import AnswerAction, ReferAction, ReferButton, ReferralAnswer
from handlers.screens.common import EXIT, button
from handlers.screens.directory import page_text, service_text, shared_text
from handlers.screens.staff_cards import mention
from models import Case, ReferralStatus

if TYPE_CHECKING:
    from bot.workers.outbox_sender import Sender

log = logging.getLogger("qorgau.delivery")

# What the staff chat is told at each step of a referral.
STAFF_EVENTS = {
    "proposed": N_("{code}: referral to {service} proposed. Waiting for the person's answer."),
    ReferralStatus.AGREED: N_(
        "{code}: the person agreed to be referred to {service}.\nMay be passed on: {shared}."
    ),
    ReferralStatus.DECLINED: N_("{code}: the person declined the referral to {service}."),
    ReferralStatus.HELP_RECEIVED: N_("{code}: the person says they got help from {service}."),
    ReferralStatus.NO_HELP: N_("{code}: the person says they did not get help from {service}."),
    "reminder": N_(
        "⏰ {code}: the person agreed to be referred to {service} {days} days ago. "
        "Please follow up."
    ),
}
# To the person, as (adult, child) msgids (a child is answered with "ты"/"сен").
ASK = (
    N_(
        "Helpline: we suggest a service that can help you.\n\n{service}\n\n"
        "May we refer you to them? You choose what we tell them: without your choice we "
        "pass nothing on."
    ),
    N_(
        "Helpline: we know a service that can help you.\n\n{service}\n\n"
        "Shall we tell them about you? You choose what we tell them. If you choose "
        "nothing, we tell them nothing."
    ),
)
FOLLOW_UP = (
    N_("Helpline: some days ago we referred you to {service}. Did you get help?"),
    N_("Helpline: some days ago we sent you to {service}. Did they help you?"),
)
ASKED = N_("The person is asked once whether they got help.")
NOT_ASKED = N_("The person asked not to be asked later.")


def _name(service: Service | None, locale: str, fallback: str) -> str:
    return service.in_locale(service.name, locale) if service else fallback


async def _referral(sender: Sender, item: OutboxItem) -> tuple[Case, Service | None, str, str]:
    found = await sender.services.referrals.get(int(item.payload["referral"]))
    if found is None:
        from bot.workers.outbox_sender import Undeliverable

        raise Undeliverable("case gone")
    referral, case = found
    return (
        case,
        by_id(sender.services.directory, referral.service),
        referral.service,
        referral.shared,
    )


def _person_markup(t: Translations, rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    buttons = [[button(t.gettext(text), data) for text, data in row] for row in rows]
    return InlineKeyboardMarkup([*buttons, [button(t.gettext(EXIT), "x")]])


async def _to_person(
    sender: Sender, case: Case, text: str, markup: InlineKeyboardMarkup | None
) -> list[Statement]:
    chat_id = sender._person_chat(case)
    sent = await sender.bot.send_message(chat_id, text, reply_markup=markup, **sender.silent())
    return sender._remembered(case, sent.message_id)


async def referral_ask(sender: Sender, item: OutboxItem) -> list[Statement]:
    case, service, service_id, _ = await _referral(sender, item)
    t = sender.services.catalogues[case.locale]
    rid = int(item.payload["referral"])
    about = service_text(t, service, case.locale) if service else service_id
    text = t.gettext(ASK[writes_as_child(case)]).format(service=about)
    markup = _person_markup(
        t,
        [
            [(N_("Yes, I agree"), ReferralAnswer(rid, AnswerAction.YES).data)],
            [(N_("No, thank you"), ReferralAnswer(rid, AnswerAction.NO).data)],
        ],
    )
    return await _to_person(sender, case, text, markup)


async def referral_follow_up(sender: Sender, item: OutboxItem) -> list[Statement]:
    case, service, service_id, _ = await _referral(sender, item)
    t = sender.services.catalogues[case.locale]
    rid = int(item.payload["referral"])
    text = t.gettext(FOLLOW_UP[writes_as_child(case)]).format(
        service=_name(service, case.locale, service_id)
    )
    markup = _person_markup(
        t,
        [
            [(N_("Yes, I got help"), ReferralAnswer(rid, AnswerAction.HELPED, "", "1").data)],
            [(N_("No, I did not"), ReferralAnswer(rid, AnswerAction.HELPED, "", "0").data)],
        ],
    )
    return await _to_person(sender, case, text, markup)


async def rights_page(sender: Sender, item: OutboxItem) -> list[Statement]:
    case = await sender._case(item)
    t = sender.services.catalogues[case.locale]
    page = next(p for p in PAGES if p.key == item.payload["page"])
    helpline = t.gettext("Helpline")  # the signature every answer carries (docs/glossary.md)
    text = f"{helpline}:\n\n{page_text(t, page)}"
    return await _to_person(sender, case, text, _person_markup(t, []))


async def referral_staff(sender: Sender, item: OutboxItem) -> list[Statement]:
    """A step of a referral, told under the case's card (the owner pinged on a reminder)."""
    case, service, service_id, shared = await _referral(sender, item)
    case = await sender._ensure_card(case)
    assert case.staff_chat_id is not None
    t, locale = sender.staff_t, sender.services.settings.default_locale
    event = item.payload["event"]
    days = sender.services.settings.referral_follow_up_days
    text = escape(
        t.gettext(STAFF_EVENTS[event]).format(
            code=case.code,
            service=_name(service, locale, service_id),
            shared=shared_text(t, shared),
            days=days,
        ),
        quote=False,
    )
    markup = None
    if event == ReferralStatus.AGREED:
        data = ReferButton(case.code.replace("-", ""), ReferAction.MADE, item.payload["referral"])
        markup = InlineKeyboardMarkup([[button(t.gettext("Referral made"), data.data)]])
    if event == "reminder":
        found = await sender.services.referrals.get(int(item.payload["referral"]))
        asked = found is not None and found[0].asked_at is not None
        text += "\n" + escape(t.gettext(ASKED if asked else NOT_ASKED), quote=False)
        owner = await sender.services.staff.get(case.taken_by) if case.taken_by else None
        text += f"\n🔔 {mention(owner)}" if owner else ""
    await sender.bot.send_message(
        case.staff_chat_id,
        (sender._repeat_mark() if item.uncertain else "") + text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        **sender._where(case),
    )
    # Not linked to the case: a reply to a notice is no answer to the person (issue 16:
    # only a reply to the card, a relayed message or an answer is); in the topic, a note.
    return []


async def directory_stale(sender: Sender, item: OutboxItem) -> list[Statement]:
    """To one admin, privately: the directory entries nobody has checked for too long."""
    t, locale = sender.staff_t, sender.services.settings.default_locale
    days = sender.services.settings.directory_max_age_days
    lines = [
        t.gettext(
            "Directory entries not checked for over {days} days. Check each one and update "
            "verified_on, or mark it unverified = true to hide it from people:"
        ).format(days=days)
    ]
    for service_id in item.payload["services"]:
        service = by_id(sender.services.directory, service_id)
        if service is not None:
            lines.append(
                f"• {service.id}: {service.in_locale(service.name, locale)} "
                f"({service.verified_on.isoformat()}; {service.source})"
            )
    try:
        await sender.bot.send_message(int(item.payload["admin"]), "\n".join(lines))
    except Forbidden:
        # An admin who never opened the bot (or blocked it) cannot be written to: trying
        # again every few minutes would not change that. The next week's notice tries again.
        log.warning("directory notice not delivered to an admin: Forbidden")
    return []


DELIVERIES: dict[str, Callable[[Sender, OutboxItem], Awaitable[list[Statement]]]] = {
    "referral_ask": referral_ask,
    "referral_follow_up": referral_follow_up,
    "rights_page": rights_page,
    "referral_staff": referral_staff,
    DIRECTORY_NOTICE: directory_stale,
}
