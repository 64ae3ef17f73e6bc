"""Referrals and rights pages from the card (staff chat), and the person's answers.

Staff: "Refer" lists the services of the directory for the case's region and kind; picking
one asks the person (through the outbox). "Rights page" sends a page in the person's
language. "Referral made" under the agreement notice records that it was passed on.
The person: agree or decline; if they agree, choose what may be passed on (nothing is
chosen for them) and whether we may ask later if they got help."""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler

from bot.app import QorgauApplication, QorgauContext, Services
from bot.i18n import N_
from bot.services.directory import by_id
from bot.services.errors import NotYourCase, Refused
from bot.services.referrals import SHAREABLE, shared_codes, writes_as_child
from bot.services.rights import PAGES
from handlers import callbacks
from handlers.access import STAFF, allowed
from handlers.callbacks import (
    AnswerAction,
    CardAction,
    CardButton,
    ReferAction,
    ReferButton,
    ReferralAnswer,
)
from handlers.screens.common import Viewer, button, keyboard, show, viewer
from handlers.screens.directory import service_text, shared_text
from handlers.screens.staff_cards import card_buttons

REFUSED = N_("This case cannot take a referral now: it is closed or the person cannot be answered.")
NOT_YOURS = N_(
    "Another volunteer has this case. Only they, a coordinator or an admin can refer it or "
    "send a page."
)


def short(name: str, limit: int = 48) -> str:
    return name if len(name) <= limit else name[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,:") + "…"


def back_to_card(code: str, label: str) -> list[InlineKeyboardButton]:
    return [button(label, CardButton(code, CardAction.CARD).data)]


async def list_services(services: Services, message: Message, code: str) -> None:
    t = services.catalogues[services.settings.default_locale]
    case = await services.casework.by_code(code)
    if case is None:
        return
    locale = services.settings.default_locale
    rows = [
        [button(short(s.in_locale(s.name, locale)), ReferButton(code, ReferAction.PICK, s.id).data)]
        for s in services.referrals.choices(case)
    ]
    rows.append(back_to_card(code, t.gettext("Back")))
    await message.edit_reply_markup(InlineKeyboardMarkup(rows))


async def list_pages(services: Services, message: Message, code: str) -> None:
    t = services.catalogues[services.settings.default_locale]
    rows = [
        [button(t.gettext(p.title), ReferButton(code, ReferAction.PAGE, p.key).data)] for p in PAGES
    ]
    rows.append(back_to_card(code, t.gettext("Back")))
    await message.edit_reply_markup(InlineKeyboardMarkup(rows))


async def restore_card(services: Services, message: Message, code: str) -> None:
    t = services.catalogues[services.settings.default_locale]
    case = await services.casework.by_code(code)
    if case is not None:
        with contextlib.suppress(BadRequest):  # "not modified"
            await message.edit_reply_markup(card_buttons(t, case))


async def refer_act(
    services: Services, button_: ReferButton, message: Message, user_id: int
) -> str | None:
    """Carry out a button; the short answer to show the volunteer, if any."""
    t = services.catalogues[services.settings.default_locale]
    if button_.action is ReferAction.LIST:
        await list_services(services, message, button_.code)
    elif button_.action is ReferAction.PAGES:
        await list_pages(services, message, button_.code)
    elif button_.action is ReferAction.PICK:
        await services.referrals.propose(button_.code, user_id, button_.arg)
        await restore_card(services, message, button_.code)
        return t.gettext("Asked the person whether they agree.")
    elif button_.action is ReferAction.PAGE:
        await services.referrals.send_page(button_.code, user_id, button_.arg)
        await restore_card(services, message, button_.code)
        return t.gettext("Sent to the person.")
    elif button_.action is ReferAction.MADE and button_.arg.isdigit():
        await services.referrals.made(user_id, int(button_.arg))
        with contextlib.suppress(BadRequest):
            await message.edit_reply_markup(None)
        return t.gettext("Recorded: referral made.")
    return None


@allowed(STAFF)
async def on_refer_button(update: Update, context: QorgauContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    services = context.services
    parsed = ReferButton.parse(query.data)
    message = query.message if isinstance(query.message, Message) else None
    if parsed is None or message is None:
        await query.answer()
        return
    try:
        note = await refer_act(services, parsed, message, user.id)
    except Refused as error:
        t = services.catalogues[services.settings.default_locale]
        text = NOT_YOURS if isinstance(error, NotYourCase) else REFUSED
        await query.answer(t.gettext(text), show_alert=True)
        if parsed.action is not ReferAction.MADE:  # "made" is pressed on a notice, not the card
            await restore_card(services, message, parsed.code)
        return
    await query.answer(note)


# -- the person ---------------------------------------------------------------------------------


# What the person reads, as (adult, child) msgids: a child is answered with "ты"/"сен" in
# shorter sentences (docs/safety.md, rule 12).
CHOOSE = (
    N_(
        "What may we tell them about your request? Choose. We pass on only what you "
        "choose; if you choose nothing, we only give you their contacts."
    ),
    N_("What can we tell them? Choose. We tell only what you choose."),
)
ASK_NOT = (N_("No, do not ask"), N_("No, don't ask"))
DECLINED = (
    N_("All right, we pass nothing on. If you want, you can contact them yourself:"),
    N_("OK, we tell them nothing. You can contact them yourself:"),
)
THANKS = (
    N_("Thank you for telling us. If you still need help, write here."),
    N_("Thank you for telling us. If you need more help, write to us here."),
)
ANSWERED = (
    N_("You have answered this already. Thank you."),
    N_("You already answered. Thank you."),
)


def choose_screen(
    v: Viewer, referral_id: int, shared: str, child: bool
) -> tuple[str, InlineKeyboardMarkup]:
    rows = []
    for code, title in SHAREABLE.items():
        flipped = shared.replace(code, "") if code in shared else shared + code
        mark = "☑" if code in shared else "☐"
        data = ReferralAnswer(referral_id, AnswerAction.YES, shared_codes(flipped)).data
        rows.append([button(f"{mark} {v._(title)}", data)])
    done = ReferralAnswer(referral_id, AnswerAction.DONE, shared).data
    rows.append([button(v._("Done"), done)])
    return v._(CHOOSE[child]), keyboard(v, rows)


def ask_later_text(v: Viewer, child: bool) -> str:
    days = v.services.settings.referral_follow_up_days
    if child:
        text = v.t.ngettext(
            "Can we ask you here in {count} day if they helped? Only once.",
            "Can we ask you here in {count} days if they helped? Only once.",
            days,
        )
    else:
        text = v.t.ngettext(
            "May we ask you here in {count} day whether you got help? We ask only once.",
            "May we ask you here in {count} days whether you got help? We ask only once.",
            days,
        )
    return text.format(count=days)


def ask_later_screen(
    v: Viewer, referral_id: int, shared: str, child: bool
) -> tuple[str, InlineKeyboardMarkup]:
    def keep(text: str, flag: str) -> list[InlineKeyboardButton]:
        return [button(text, ReferralAnswer(referral_id, AnswerAction.KEEP, shared, flag).data)]

    rows = [keep(v._("Yes, you may ask"), "1"), keep(v._(ASK_NOT[child]), "0")]
    return ask_later_text(v, child), keyboard(v, rows)


async def record(v: Viewer, answer: ReferralAnswer, child: bool) -> str:
    """The person's final answers are written here, and only here."""
    referrals, rid = v.services.referrals, answer.referral_id
    if answer.action is AnswerAction.NO:
        await referrals.answer(v.pseudonym, rid, agree=False)
        return v._(DECLINED[child])
    if answer.action is AnswerAction.KEEP:
        await referrals.answer(
            v.pseudonym, rid, agree=True, shared=answer.shared, may_ask=answer.flag == "1"
        )
        if not shared_codes(answer.shared):
            return v._("Thank you. We will tell them nothing about the request. Their contacts:")
        return v._("Thank you. We will pass on only: {shared}. Their contacts:").format(
            shared=shared_text(v.t, answer.shared)
        )
    await referrals.got_help(v.pseudonym, rid, helped=answer.flag == "1")
    return v._(THANKS[child])


async def on_referral_answer(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    query = update.callback_query
    assert query is not None and query.data is not None
    answer = ReferralAnswer.parse(query.data)
    if answer is None:
        return
    rid, shared = answer.referral_id, shared_codes(answer.shared)
    found = await v.services.referrals.get(rid)
    child = found is not None and writes_as_child(found[1])
    if answer.action in (AnswerAction.YES, AnswerAction.DONE):
        screen = choose_screen if answer.action is AnswerAction.YES else ask_later_screen
        await show(update, context, v, *screen(v, rid, shared, child))
        return
    try:
        text = await record(v, answer, child)
    except Refused:
        text = v._(ANSWERED[child])
    else:
        service = by_id(v.services.directory, found[0].service) if found else None
        if service is not None and answer.action is not AnswerAction.HELPED:
            text += "\n\n" + service_text(v.t, service, v.locale)
    rows = [[button(v._("Main menu"), callbacks.MENU)]]
    await show(update, context, v, text, keyboard(v, rows))


def register(application: QorgauApplication) -> None:
    application.add_handler(CallbackQueryHandler(on_refer_button, pattern=ReferButton.pattern))
    application.add_handler(
        CallbackQueryHandler(on_referral_answer, pattern=ReferralAnswer.pattern)
    )
