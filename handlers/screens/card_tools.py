"""What the card's tools share: ready answers, risk levels, the open-case limit, /queue.
Redrawing the card, the words for a refusal, the queue's lines."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.app import Services
from bot.i18n import N_
from bot.services.errors import (
    AnswerExists,
    CaseClosed,
    InvalidAnswerText,
    NoReplyAddress,
    NoSuchAnswer,
    NotYourCase,
    Refused,
    TooManyOpen,
)
from bot.services.ready_answers import Answer
from bot.services.triage import (
    NOT_ASSESSED,
    NOT_ASSESSED_URGENT,
    RISK_LABELS,
    RISK_MARKS,
    RISK_NAMES,
    Queue,
)
from handlers.callbacks import CardAction, CardButton, ReadyAction, ReadyButton, RiskButton
from handlers.screens.common import LANGUAGE_NAMES
from handlers.screens.staff_cards import card_buttons, card_text
from models import Case
from models.enums import RISK_LEVELS, RiskLevel

BUTTON_LIMIT = 32  # a phone shows about this much of a button
ALERT_LIMIT = 200  # Telegram's limit for a button's alert (answerCallbackQuery)

REFUSED = {
    CaseClosed: N_("This case is closed."),
    NoReplyAddress: N_(
        "This person cannot be answered: they asked not to be answered or "
        "erased the link. The message was not sent."
    ),
    NotYourCase: N_(
        "Another volunteer has this case. Only they, a coordinator or an admin can answer, "
        "release or close it."
    ),
    NoSuchAnswer: N_("There is no such ready answer any more. /answers lists them."),
}
NOT_YOURS_RISK = N_(
    "Another volunteer has this case. Only they, a coordinator or an admin can change its "
    "risk level."
)


def limit_text(t: Translations, limit: int) -> str:
    """Kind, and names the limit: the volunteer did nothing wrong."""
    return t.ngettext(
        "You already have {count} open case: that is the most one volunteer holds at a "
        "time, so that nobody carries too much. Close or release it, or ask a coordinator "
        "to take this case.",
        "You already have {count} open cases: that is the most one volunteer holds at a "
        "time, so that nobody carries too much. Close or release one, or ask a coordinator "
        "to take this case.",
        limit,
    ).format(count=limit)


def refusal(t: Translations, error: Refused) -> str:
    if isinstance(error, TooManyOpen):
        return limit_text(t, error.limit)
    return t.gettext(REFUSED.get(type(error), REFUSED[CaseClosed]))


async def redraw_card(services: Services, message: Message, code: str) -> None:
    """The card as the case is now (its text and buttons)."""
    t = services.catalogues[services.settings.default_locale]
    case = await services.casework.by_code(code)
    if case is None:
        return
    taker = await services.staff.get(case.taken_by) if case.taken_by else None
    with contextlib.suppress(BadRequest):  # "not modified"
        await message.edit_text(
            card_text(t, case, taker=taker),
            parse_mode=ParseMode.HTML,
            reply_markup=card_buttons(t, case),
        )


def back_row(t: Translations, code: str) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            t.gettext("Back"), callback_data=CardButton(code, CardAction.CARD).data
        )
    ]


# -- ready answers ------------------------------------------------------------------------------


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def answers_keyboard(
    t: Translations, code: str, answers: list[Answer], locale: str
) -> InlineKeyboardMarkup:
    """One button per ready answer: its key and how it begins (in the staff's language)."""
    rows = [
        [
            InlineKeyboardButton(
                short(f"{a.key} · {a.text(locale)}", BUTTON_LIMIT),
                callback_data=ReadyButton(code, ReadyAction.PREVIEW, a.key).data,
            )
        ]
        for a in answers
    ]
    return InlineKeyboardMarkup([*rows, back_row(t, code)])


def confirm_keyboard(t: Translations, code: str, key: str) -> InlineKeyboardMarkup:
    send = ReadyButton(code, ReadyAction.SEND, key).data
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("✉️ " + t.gettext("Send to the person"), callback_data=send)],
            [
                InlineKeyboardButton(
                    t.gettext("Other answers"), callback_data=ReadyButton(code).data
                )
            ],
            back_row(t, code),
        ]
    )


def preview_text(answer: Answer, locale: str) -> str:
    """What the person will read, as far as an alert shows it."""
    language = LANGUAGE_NAMES.get(locale, locale)
    return short(f"{answer.key} · {language}: {answer.text(locale)}", ALERT_LIMIT)


def library_entry(t: Translations, answer: Answer, *, whole: bool) -> str:
    texts = [
        f"{locale}: {answer.texts[locale] if whole else short(answer.texts[locale], 70)}"
        for locale in ("kk", "ru", "en")
    ]
    return "\n".join([f"• {answer.key}", *texts])


ANSWER_FORMAT = N_(
    "Write it like this, each language on a line of its own (a text may go on over several "
    "lines):\n/answer_add KEY\nkk: the Kazakh text\nru: the Russian text\nen: the English text\n"
    "KEY: up to 24 of a-z, 0-9 and _. /answer_edit KEY with one, two or three of the lines "
    "replaces those texts; /answer_remove KEY removes the answer."
)


def library_refusal(t: Translations, error: Refused, key: str) -> str:
    if isinstance(error, AnswerExists):
        return t.gettext(
            "There is a ready answer “{key}” already: change it with /answer_edit."
        ).format(key=key)
    if isinstance(error, NoSuchAnswer):
        return t.gettext("There is no ready answer “{key}”. /answers lists them.").format(key=key)
    if isinstance(error, InvalidAnswerText) and error.locale:
        language = LANGUAGE_NAMES.get(error.locale, error.locale)
        if error.reason == "long":
            text = t.gettext("The text in {language} is {length} characters long; at most 4096.")
            return text.format(language=language, length=error.length)
        if error.reason == "twice":
            return t.gettext("The text in {language} is given twice.").format(language=language)
        return t.gettext("The text in {language} is missing.").format(language=language)
    return t.gettext(ANSWER_FORMAT)


# -- risk and the queue -------------------------------------------------------------------------


def risk_keyboard(t: Translations, case: Case) -> InlineKeyboardMarkup:
    """The four levels, highest first; the one set now is ticked."""
    code = case.code.replace("-", "")
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if case.risk == level else "")
                + f"{RISK_MARKS[level]} {t.gettext(RISK_NAMES[level])}",
                callback_data=RiskButton(code, level).data,
            )
        ]
        for level in RISK_LEVELS
    ]
    return InlineKeyboardMarkup([*rows, back_row(t, code)])


def waited(t: Translations, since: datetime, now: datetime) -> str:
    minutes = max(int((now - since) / timedelta(minutes=1)), 0)
    days, hours = minutes // 1440, minutes // 60 % 24
    if days:
        return t.gettext("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return t.gettext("{hours} h {minutes} min").format(hours=hours, minutes=minutes % 60)
    return t.gettext("{minutes} min").format(minutes=minutes)


def queue_text(t: Translations, queue: Queue, names: dict[int, str]) -> str:
    """/queue: one line a case, highest risk first, then the longest waiting."""
    if not queue.total:
        return t.gettext("No open cases.")
    now = datetime.now(UTC)
    head = t.ngettext(
        "{count} open case: highest risk first, then the longest waiting.",
        "{count} open cases: highest risk first, then the longest waiting.",
        queue.total,
    ).format(count=queue.total)
    lines = [head, ""]
    for entry in queue.entries:
        level = RiskLevel(entry.risk) if entry.risk in set(RiskLevel) else None
        shown = level or (RiskLevel.HIGH if entry.urgent else None)
        if level is not None:
            risk = t.gettext(RISK_LABELS[level])
        else:
            risk = t.gettext(NOT_ASSESSED_URGENT if entry.urgent else NOT_ASSESSED)
        if entry.taken_by is None:
            owner = t.gettext("not taken")
        else:
            name = names.get(entry.taken_by, str(entry.taken_by))
            owner = t.gettext("taken by {name}").format(name=name)
        wait = t.gettext("waiting {time}").format(time=waited(t, entry.created_at, now))
        lines.append(f"{RISK_MARKS[shown]} {entry.code} · {risk} · {owner} · {wait}")
    if queue.total > len(queue.entries):
        more = queue.total - len(queue.entries)
        lines.append(t.gettext("…and {count} more.").format(count=more))
    return "\n".join(lines)
