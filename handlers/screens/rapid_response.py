"""How an urgent case looks to staff (docs/rapid-response.md): the private ping, the
rapid-response steps under a child's card (a button for each step not yet done), the notice
of a missed deadline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import N_
from bot.services.casework import compact
from bot.services.rapid_response import StepState, step_of
from handlers.callbacks import StepButton

ROLE_NAMES: dict[str, str] = {
    "admin": N_("admin"),
    "coordinator": N_("coordinator"),
    "lawyer": N_("lawyer"),
    "psychologist": N_("psychologist"),
}


def urgent_ping_text(t: Translations, code: str, *, child: bool) -> str:
    if child:
        text = t.gettext(
            "🚨 Urgent case {code} about a child. Nobody has taken it yet. Open the staff "
            "chat now: the rapid-response steps are under the card."
        )
    else:
        text = t.gettext("🚨 Urgent case {code}. Nobody has taken it yet. Open the staff chat now.")
    return text.format(code=code)


def _name(key: str, locale: str) -> str:
    step = step_of(key)
    return step.name(locale) if step else key


def _role(t: Translations, key: str) -> str:
    step = step_of(key)
    return t.gettext(ROLE_NAMES.get(step.role, step.role)) if step else ""


def steps_text(
    t: Translations,
    locale: str,
    zone: ZoneInfo,
    code: str,
    states: Sequence[StepState],
    names: Mapping[int, str],
) -> str:
    """Each step: done (when, by whom) or waiting (by when, who does it)."""
    lines = [
        "🚨 <b>" + escape(t.gettext("{code}: rapid response (a child)").format(code=code)) + "</b>"
    ]
    for state in states:
        name = escape(_name(state.key, locale))
        if state.done_at is not None:
            who = names.get(state.done_by or 0, "?")
            when = _clock(state.done_at, zone)
            lines.append(
                "✅ "
                + escape(t.gettext("{step}: done at {time} by {name}")).format(
                    step=name, time=when, name=escape(who)
                )
            )
        else:
            lines.append(
                "⏳ "
                + escape(t.gettext("{step}: by {time} ({role})")).format(
                    step=name, time=_clock(state.due_at, zone), role=escape(_role(t, state.key))
                )
            )
    if states and all(s.done_at is not None for s in states):
        lines.append(escape(t.gettext("All steps are done.")))
    else:
        lines.append(escape(t.gettext("Press a step when it is done.")))
    return "\n".join(lines)


def steps_keyboard(
    locale: str, code: str, states: Sequence[StepState]
) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(
                "☐ " + _name(s.key, locale), callback_data=StepButton(compact(code), s.key).data
            )
        ]
        for s in states
        if s.done_at is None
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def overdue_text(t: Translations, locale: str, code: str, key: str, mentions: Sequence[str]) -> str:
    step = step_of(key)
    minutes = step.minutes if step else 0
    text = escape(
        t.ngettext(
            "⏰ {code}: the step “{step}” is not done {count} minute after the case came in.",
            "⏰ {code}: the step “{step}” is not done {count} minutes after the case came in.",
            minutes,
        ).format(code=code, step=_name(key, locale), count=minutes)
    )
    return text + ("\n🔔 " + ", ".join(mentions) if mentions else "")


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    """The time; with the date (day.month) when it is not today."""
    local = moment.astimezone(zone)
    today = datetime.now(zone).date()
    return local.strftime("%H:%M" if local.date() == today else "%d.%m %H:%M")
