"""How a case looks in the staff chat: the card, its buttons, mentions. Staff see the
case's reference code only, never who the person is (SPEC safety rule 7)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.casework import OUTCOMES, compact
from bot.services.intake_form import AGE, KINDS, REGION, question
from bot.services.staff import Member
from handlers.common import choice_label
from models import Case

LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


def mention(member: Member) -> str:
    return f'<a href="tg://user?id={member.telegram_id}">{escape(member.name)}</a>'


def card_text(
    t: Translations, case: Case, *, taker: Member | None = None, pings: Sequence[Member] = ()
) -> str:
    """The card: code, kind, category, affected, age band, region, urgency, language and the
    scrubbed description (SPEC "Staff side")."""
    answers = {"kind": case.kind, "category": case.category}
    topic = choice_label(t, question("category", answers), case.category)
    if case.subcategory:
        topic += " · " + choice_label(t, question("follow", answers), case.subcategory)
    lines = [f"<b>{case.code}</b> · {escape(t.gettext(KINDS[case.kind]))}"]
    if case.urgent:
        lines.append("⚠️ " + escape(t.gettext("URGENT: someone is in danger")))
    lines += [
        f"{escape(t.gettext('Topic'))}: {escape(topic)}",
        f"{escape(t.gettext('Who'))}: "
        f"{escape(choice_label(t, question('affected', answers), case.affected))} · "
        f"{escape(t.gettext('Age'))}: {escape(choice_label(t, AGE, case.age_band))}",
        f"{escape(t.gettext('Region'))}: {escape(choice_label(t, REGION, case.region))}",
        f"{escape(t.gettext('Language'))}: {LANGUAGE_NAMES.get(case.locale, case.locale)}",
    ]
    if not case.may_answer:
        lines.append(escape(t.gettext("The person asked not to be answered.")))
    lines += ["", escape(case.description or t.gettext("(no description)"))]
    if case.status == "closed":
        outcome = t.gettext(OUTCOMES.get(case.outcome or "", "")) if case.outcome else ""
        lines += [
            "",
            "✅ " + escape(t.gettext("Closed")) + (f": {escape(outcome)}" if outcome else ""),
        ]
    elif taker is not None:
        lines += ["", "🙋 " + escape(t.gettext("Taken by {name}")).format(name=mention(taker))]
    elif pings:
        lines += ["", "🔔 " + ", ".join(mention(m) for m in pings)]
    return "\n".join(lines)


def card_buttons(t: Translations, case: Case) -> InlineKeyboardMarkup | None:
    code = compact(case.code)
    if case.status == "closed":
        return None
    if case.taken_by is None:
        row = [
            InlineKeyboardButton(t.gettext("Take"), callback_data=f"c:{code}:take"),
            InlineKeyboardButton(t.gettext("Close"), callback_data=f"c:{code}:close"),
        ]
        return InlineKeyboardMarkup([row])
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t.gettext("Reply"), callback_data=f"c:{code}:reply"),
                InlineKeyboardButton(t.gettext("Release"), callback_data=f"c:{code}:release"),
                InlineKeyboardButton(t.gettext("Close"), callback_data=f"c:{code}:close"),
            ]
        ]
    )


def outcome_buttons(t: Translations, case: Case) -> InlineKeyboardMarkup:
    code = compact(case.code)
    rows = [
        [InlineKeyboardButton(t.gettext(title), callback_data=f"c:{code}:o:{key}")]
        for key, title in OUTCOMES.items()
    ]
    rows.append([InlineKeyboardButton(t.gettext("Back"), callback_data=f"c:{code}:card")])
    return InlineKeyboardMarkup(rows)
