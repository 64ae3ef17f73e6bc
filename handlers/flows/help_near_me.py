""" "Help near me": choose a region (or rather not say) and see the services for it and the
national ones, in the person's language; children's services first for a child.

Nothing is stored about what anyone looked at: the choices travel in the buttons only and
every screen edits the one pressed (no new message, so not even a message id is kept)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, Update
from telegram.ext import CallbackQueryHandler

from bot.app import QorgauApplication, QorgauContext
from bot.services.directory import for_people
from bot.services.intake_form import MORE_REGIONS, REGION, REGIONS, IntakeDraft, label
from handlers import callbacks
from handlers.callbacks import NearButton
from handlers.screens.common import Viewer, button, in_columns, keyboard, show, viewer
from handlers.screens.directory import services_text

NOT_SAID = "na"


def child_toggle(v: Viewer, near: NearButton) -> list[list[InlineKeyboardButton]]:
    mark = "☑" if near.child else "☐"
    flipped = NearButton(near.region, not near.child)
    under_18 = v._("I am under 18")
    return [[button(f"{mark} {under_18}", flipped.data)]]


def region_screen(v: Viewer, near: NearButton) -> tuple[str, list[list[InlineKeyboardButton]]]:
    """The cities and 'other regions…' first, the 17 regions one tap further."""
    second_page = near.region == MORE_REGIONS
    choices = REGIONS.choices if second_page else REGION.choices
    buttons = [
        button(v._(text), NearButton(code, near.child).data)
        for code, text in choices
        if code != "abroad"
    ]
    rows: list[list[InlineKeyboardButton]] = [*in_columns(buttons, 2 if second_page else 3)]
    rows += child_toggle(v, NearButton("", near.child))
    if second_page:
        rows.append([button(v._("Back"), NearButton("", near.child).data)])
    rows.append([button(v._("Main menu"), callbacks.MENU)])
    text = v._(
        "Help near you. Where are you? Choose a city or a region, or do not say: you will "
        "see the services for the whole country. We do not keep your choice."
    )
    return text, rows


def services_screen(v: Viewer, near: NearButton) -> tuple[str, list[list[InlineKeyboardButton]]]:
    region = None if near.region == NOT_SAID else near.region
    shown = for_people(v.services.directory, region, child=near.child)
    place = label(REGION, region) if region else None
    head = (
        v._("Services in {place} and for the whole country:").format(place=v._(place))
        if place
        else v._("Services for the whole country:")
    )
    ending = (
        v._("You can call them yourself. Or send us a request: we can refer you, if you agree.")
        if not near.child
        else v._("You can call them. Or write to us: we will help you find who can help.")
    )
    text = "\n\n".join([head, services_text(v.t, shown, v.locale), ending])
    rows: list[list[InlineKeyboardButton]] = [
        [button(v._("Another region"), NearButton("", near.child).data)],
        [button(v._("Main menu"), callbacks.MENU)],
    ]
    return text, rows


async def help_near_me(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    query = update.callback_query
    assert query is not None and query.data is not None
    near = NearButton.parse(query.data)
    if near is None:  # from the main menu: their draft or latest request may say "under 18"
        draft = IntakeDraft.from_dict((context.user_data or {}).get("draft") or {})
        child = draft.is_child or await v.services.referrals.wrote_as_child(v.pseudonym)
        near = NearButton("", child)
    known = near.region in {code for code, _ in (*REGION.choices, *REGIONS.choices)}
    if known and near.region != MORE_REGIONS:
        text, rows = services_screen(v, near)
    else:
        text, rows = region_screen(v, near)
    await show(update, context, v, text, keyboard(v, rows))


def register(application: QorgauApplication) -> None:
    application.add_handler(CallbackQueryHandler(help_near_me, pattern=NearButton.pattern))
