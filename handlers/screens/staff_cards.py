"""How a case looks in the staff chat: the card, its buttons, mentions. Staff see the
case's reference code only, never who the person is (docs/safety.md, rule 7)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.casework import OUTCOMES, compact
from bot.services.intake_form import AGE, KINDS, REGION, answers_of, question
from bot.services.staff import Member
from bot.services.triage import RISK_LINES, RISK_MARKS, RISK_NOT_ASSESSED, RISK_NOT_ASSESSED_URGENT
from bot.services.urgency import Facts
from handlers.callbacks import (
    CardAction,
    CardButton,
    CaseAction,
    CaseButton,
    ReadyButton,
    ReferAction,
    ReferButton,
    RiskButton,
)
from handlers.screens.common import LANGUAGE_NAMES, choice_label
from models import Case
from models.enums import CaseKind, CaseStatus, Outcome, RiskLevel


def mention(member: Member) -> str:
    return f'<a href="tg://user?id={member.telegram_id}">{escape(member.name)}</a>'


def card_text(
    t: Translations, case: Case, *, taker: Member | None = None, pings: Sequence[Member] = ()
) -> str:
    """The card: code, kind, category, affected, age band, region, urgency, language and the
    scrubbed description (docs/staff-guide.md)."""
    answers = answers_of(case.kind, case.category)
    topic = choice_label(t, question("category", answers), case.category)
    if case.subcategory:
        topic += " · " + choice_label(t, question("follow", answers), case.subcategory)
    lines = [f"<b>{case.code}</b> · {escape(t.gettext(KINDS[CaseKind(case.kind)]))}"]
    if case.urgent:
        facts = Facts(case.kind, case.category, case.age_band, case.affected)
        if facts.about_a_child:
            lines.append("⚠️ " + escape(t.gettext("URGENT: a child at risk")))
        else:
            lines.append("⚠️ " + escape(t.gettext("URGENT: someone is in danger")))
    lines.append(risk_line(t, case))
    lines += [
        escape(t.gettext("Topic: {topic}").format(topic=topic)),
        escape(
            t.gettext("Who: {who} · Age: {age}").format(
                who=choice_label(t, question("affected", answers), case.affected),
                age=choice_label(t, AGE, case.age_band),
            )
        ),
        escape(t.gettext("Region: {region}").format(region=choice_label(t, REGION, case.region))),
        escape(
            t.gettext("Language: {language}").format(
                language=LANGUAGE_NAMES.get(case.locale, case.locale)
            )
        ),
    ]
    if not case.may_answer:
        lines.append(escape(t.gettext("The person asked not to be answered.")))
    elif window := answer_window_line(t, case):
        lines.append("🕘 " + escape(window))
    lines += ["", escape(case.description or t.gettext("(no description)"))]
    if case.status == CaseStatus.CLOSED:
        outcome = t.gettext(OUTCOMES[Outcome(case.outcome)]) if case.outcome in OUTCOMES else ""
        lines += [
            "",
            "✅ "
            + escape(
                t.gettext("Closed: {outcome}").format(outcome=outcome)
                if outcome
                else t.gettext("Closed")
            ),
        ]
    elif taker is not None:
        lines += ["", "🙋 " + escape(t.gettext("Taken by {name}")).format(name=mention(taker))]
    elif pings:
        lines += ["", "🔔 " + ", ".join(mention(m) for m in pings)]
    return "\n".join(lines)


def answer_window_line(t: Translations, case: Case) -> str:
    """When the person's answers may arrive (issue 13, safe times); empty: any time, with a
    sound. The outbox keeps to it (bot/services/outbox.py, Outbox._in_window)."""
    parts = []
    if case.answer_after_writing:
        parts.append(t.gettext("Answers only after the person writes"))
    elif case.answer_from is not None and case.answer_until is not None:
        parts.append(
            t.gettext("Answers reach them only {start}:00–{end}:00").format(
                start=case.answer_from, end=case.answer_until
            )
        )
    if case.answer_silent:
        parts.append(t.gettext("without sound") if parts else t.gettext("Answers without sound"))
    return " · ".join(parts)


def risk_line(t: Translations, case: Case) -> str:
    """The risk staff set (⚪ until someone does)."""
    level = RiskLevel(case.risk) if case.risk in set(RiskLevel) else None
    if level is not None:
        text = RISK_LINES[level]
    else:
        text = RISK_NOT_ASSESSED_URGENT if case.urgent else RISK_NOT_ASSESSED
    return f"{RISK_MARKS[level]} {escape(t.gettext(text))}"


def tools_row(t: Translations, case: Case) -> list[InlineKeyboardButton]:
    """A ready answer from the library (if the person can be answered); the risk level."""
    code = compact(case.code)
    row = [InlineKeyboardButton(t.gettext("Risk level"), callback_data=RiskButton(code).data)]
    if case.reply_to is not None:
        ready = InlineKeyboardButton(
            t.gettext("Ready answer"), callback_data=ReadyButton(code).data
        )
        row.insert(0, ready)
    return row


def card_buttons(t: Translations, case: Case) -> InlineKeyboardMarkup | None:
    code = compact(case.code)
    if case.status == CaseStatus.CLOSED:  # staff may open it again (issue 16)
        reopen = CaseButton(code, CaseAction.REOPEN).data
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(t.gettext("Reopen"), callback_data=reopen)]]
        )
    if case.taken_by is None:
        row = [
            InlineKeyboardButton(
                t.gettext("Take"), callback_data=CardButton(code, CardAction.TAKE).data
            ),
            InlineKeyboardButton(
                t.gettext("Close"), callback_data=CardButton(code, CardAction.CLOSE).data
            ),
        ]
        return InlineKeyboardMarkup([row, tools_row(t, case)])
    extra = [refer_row(t, code)] if case.reply_to is not None else []
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Reply"), callback_data=CardButton(code, CardAction.REPLY).data
                ),
                InlineKeyboardButton(
                    t.gettext("Release"), callback_data=CardButton(code, CardAction.RELEASE).data
                ),
                InlineKeyboardButton(
                    t.gettext("Close"), callback_data=CardButton(code, CardAction.CLOSE).data
                ),
            ],
            *extra,
            tools_row(t, case),
        ]
    )


def refer_row(t: Translations, code: str) -> list[InlineKeyboardButton]:
    """Refer to a service of the directory; send a rights page (issue 17)."""
    return [
        InlineKeyboardButton(
            t.gettext("Refer"), callback_data=ReferButton(code, ReferAction.LIST).data
        ),
        InlineKeyboardButton(
            t.gettext("Rights page"), callback_data=ReferButton(code, ReferAction.PAGES).data
        ),
    ]


def outcome_buttons(t: Translations, case: Case) -> InlineKeyboardMarkup:
    code = compact(case.code)
    rows = [
        [
            InlineKeyboardButton(
                t.gettext(title), callback_data=CardButton(code, CardAction.OUTCOME, key).data
            )
        ]
        for key, title in OUTCOMES.items()
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t.gettext("Back"), callback_data=CardButton(code, CardAction.CARD).data
            )
        ]
    )
    return InlineKeyboardMarkup(rows)
