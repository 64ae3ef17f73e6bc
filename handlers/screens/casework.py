"""Casework on the staff side (issue 16): how a note or an answer is marked, the handover
note, a case's history (/case) and a volunteer's open cases (/mine). Staff are named as the
roster names them; nothing identifies the person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from zoneinfo import ZoneInfo

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ReactionEmoji

from bot.i18n import N_
from bot.message_parts import TEXT_LIMIT, visible_length
from bot.services.casework import OUTCOMES, compact
from bot.services.history import CaseHistory, Event, HeldCase
from bot.services.intake_form import KINDS, answers_of, question
from bot.services.notes import MARK_DELIVERED, MARK_NOTE, SKIPPED, Note
from bot.services.staff import Member
from handlers.callbacks import CaseAction, CaseButton
from handlers.screens.common import LANGUAGE_NAMES, choice_label
from handlers.screens.staff_cards import mention
from models.enums import AuditAction, CaseKind, CaseStatus, ClosedBy, Outcome, RiskLevel

# A volunteer's message marked as what became of it: a reaction (no message of its own, so
# nothing counts against the group's 20 messages a minute), or where the chat does not allow
# that reaction, a short reply.
MARK_REACTIONS = {MARK_NOTE: ReactionEmoji.WRITING_HAND, MARK_DELIVERED: ReactionEmoji.THUMBS_UP}
MARK_WORDS = {
    MARK_NOTE: N_("✍ Kept as a note: not sent to the person."),
    MARK_DELIVERED: N_("👍 Delivered to the person."),
}
# What a volunteer is told when a note cannot be kept.
NOTE_USAGE = N_(
    "/note works as a reply to a case's card or to the person's messages, or in a case's "
    "topic: /note and then your note. It is kept in the case's history and never sent."
)
NOTE_EMPTY = N_("Write the note after /note.")
NOT_OWNER = N_(
    "{name} has this case. Only they, a coordinator or an admin can answer, release, close "
    "or reopen it."
)
NOT_OWNER_NOTE = N_("To leave them a note, start your reply with /note.")
CASE_OPEN = N_("This case is open.")
CASE_ERASED = N_("This case's text was erased after the retention period: it cannot be reopened.")

# How each event of a case's history reads in /case (stored actions are English codes).
EVENTS: dict[str, str] = {
    AuditAction.TAKE: N_("taken"),
    AuditAction.RELEASE: N_("released"),
    AuditAction.REPLY: N_("answer sent"),
    AuditAction.CLOSE: N_("case closed"),
    AuditAction.REOPEN: N_("reopened"),
    AuditAction.REFUSED: N_("refused"),
    AuditAction.NOTE: N_("note"),
    AuditAction.HANDOVER: N_("handover note"),
}
# Shown without their detail (it says nothing more to a volunteer).
PLAIN_EVENTS = frozenset({AuditAction.TAKE, AuditAction.RELEASE, AuditAction.REOPEN})
RISKS = {
    RiskLevel.LOW: N_("low"),
    RiskLevel.MEDIUM: N_("medium"),
    RiskLevel.HIGH: N_("high"),
    RiskLevel.IMMINENT: N_("imminent"),
}
# A note in /case is shown up to this many characters (the whole of it is in the staff chat).
NOTE_SHOWN = 500
# Room for a page of /case: Telegram's limit, less a margin for the page line.
PAGE_ROOM = TEXT_LIMIT - 200
HELD_SHOWN = 40  # /mine lists this many cases; the rest are counted


def when(at: datetime, zone: ZoneInfo) -> str:
    """A moment as the line's staff read it: day, month and time in the line's zone."""
    local = at.astimezone(zone)
    return (
        f"{local:%d.%m %H:%M}"
        if local.year == datetime.now(zone).year
        else f"{local:%d.%m.%Y %H:%M}"
    )


def duration(t: Translations, seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    days, hours = minutes // 1440, minutes // 60 % 24
    if days:
        return t.gettext("{days} d {hours} h").format(days=days, hours=hours)
    if minutes >= 60:
        return t.gettext("{hours} h {minutes} min").format(hours=hours, minutes=minutes % 60)
    return t.gettext("{minutes} min").format(minutes=minutes)


def mark_words(t: Translations, mark: str) -> str:
    return t.gettext(MARK_WORDS[mark])


def owner_refusal(t: Translations, name: str, *, replying: bool = False) -> str:
    text = t.gettext(NOT_OWNER).format(name=name)
    return f"{text} {t.gettext(NOT_OWNER_NOTE)}" if replying else text


# -- handover ------------------------------------------------------------------------------------


def handover_prompt(t: Translations, code: str) -> tuple[str, InlineKeyboardMarkup]:
    text = t.gettext(
        "{code} is released. Reply to this message with a short handover note for whoever "
        "takes it next: what was done, what to watch out for. It stays in the case's history "
        "and is never sent to the person. Or press «No note»."
    ).format(code=code)
    skip = CaseButton(compact(code), CaseAction.SKIP).data
    return text, InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext("No note"), callback_data=skip)]]
    )


def handover_skipped(t: Translations, code: str) -> str:
    return t.gettext("{code} is released, without a handover note.").format(code=code)


def handover_text(
    t: Translations, code: str, author: str, note: Note, zone: ZoneInfo, taker: Member | None
) -> str:
    """The handover note, shown to whoever has the case now (`taker`: a Member to call)."""
    head = t.gettext("📝 Handover note for {code} from {name} ({time}):").format(
        code=code, name=author, time=when(note.at, zone)
    )
    lines = [escape(head), escape(note.text or f"({note.media})")]
    if taker is not None:
        lines.append(f"🔔 {mention(taker)}")
    return "\n".join(lines)


# -- /case ---------------------------------------------------------------------------------------


def _status(t: Translations, h: CaseHistory) -> str:
    case = h.case
    if case.status == CaseStatus.CLOSED:
        if case.closed_by == ClosedBy.PERSON:
            return t.gettext("Status: closed by the person")
        outcome = t.gettext(OUTCOMES[Outcome(case.outcome)]) if case.outcome in OUTCOMES else ""
        return t.gettext("Status: closed ({outcome})").format(outcome=outcome)
    if case.taken_by is None:
        return t.gettext("Status: open, nobody has taken it")
    name = h.names.get(case.taken_by, t.gettext("former staff"))
    return t.gettext("Status: open, taken by {name}").format(name=name)


def _topic(t: Translations, kind: str, category: str, follow: str | None) -> str:
    answers = answers_of(kind, category)
    topic = choice_label(t, question("category", answers), category)
    if follow:
        topic += " · " + choice_label(t, question("follow", answers), follow)
    return topic


def history_header(t: Translations, h: CaseHistory, zone: ZoneInfo) -> list[str]:
    case = h.case
    kind = t.gettext(KINDS[CaseKind(case.kind)])
    lines = [
        f"📁 <b>{case.code}</b> · {escape(kind)}",
        escape(
            t.gettext("Topic: {topic}").format(
                topic=_topic(t, case.kind, case.category, case.subcategory)
            )
        ),
        escape(_status(t, h)),
        escape(t.gettext("Urgent: yes") if case.urgent else t.gettext("Urgent: no")),
    ]
    # Risk levels come with issue 16's queue; shown here once cases carry one.
    risk = getattr(case, "risk", None)
    if risk:
        label = t.gettext(RISKS[RiskLevel(risk)]) if risk in set(RiskLevel) else str(risk)
        lines.append(escape(t.gettext("Risk: {risk}").format(risk=label)))
    lines += [
        escape(
            t.gettext("Opened: {time} · Language: {language}").format(
                time=when(case.created_at, zone),
                language=LANGUAGE_NAMES.get(case.locale, case.locale),
            )
        ),
        escape(
            t.gettext(
                "Messages from the person: {received}, to the person: {sent}. Notes: {notes}."
            ).format(received=h.from_person, sent=h.to_person, notes=h.notes)
        ),
    ]
    if case.erased_at is not None:
        lines.append(escape(t.gettext("Its free text was erased after the retention period.")))
    return lines


def _quoted(text: str | None, media: str) -> str:
    shown = (text or "")[:NOTE_SHOWN] + ("…" if text and len(text) > NOTE_SHOWN else "")
    kind = "" if media == "text" else f"({media}) "
    return f"{kind}«{shown}»" if shown else kind.strip() or "—"


def _note_event(t: Translations, label: str, detail: str, notes: dict[int, Note]) -> str:
    if detail == SKIPPED:
        return t.gettext("released without a handover note")
    note = notes.get(int(detail)) if detail.isdigit() else None
    if note is None or (not note.text and note.media == "text"):
        erased = t.gettext("(erased)")
        return f"{label}: {erased}"
    return f"{label}: {_quoted(note.text, note.media)}"


def _close_event(t: Translations, label: str, detail: str) -> str:
    if detail == ClosedBy.PERSON:
        return t.gettext("closed by the person")
    return f"{label}: {t.gettext(OUTCOMES[Outcome(detail)])}" if detail in OUTCOMES else label


def _what(t: Translations, event: Event, notes: dict[int, Note]) -> str:
    """What happened, in words: known events by name (a note with its text), others as
    stored, with their detail."""
    label = t.gettext(EVENTS[event.action]) if event.action in EVENTS else event.action
    detail = event.detail or ""
    if event.action in (AuditAction.NOTE, AuditAction.HANDOVER):
        return _note_event(t, label, detail, notes)
    if event.action == AuditAction.CLOSE:
        return _close_event(t, label, detail)
    if event.action in PLAIN_EVENTS or (event.action == AuditAction.REPLY and detail == "text"):
        return label
    return f"{label} ({detail})" if detail else label


def event_line(
    t: Translations, event: Event, h: CaseHistory, notes: dict[int, Note], zone: ZoneInfo
) -> str:
    who = h.names.get(event.staff_id, t.gettext("former staff")) if event.staff_id else ""
    parts = [when(event.at, zone), who, _what(t, event, notes)]
    return escape(" · ".join(part for part in parts if part))


def paged(header: str, lines: Sequence[str], room: int = PAGE_ROOM) -> list[list[str]]:
    """The lines in pages that fit under the header, the newest page first (page 0)."""
    pages: list[list[str]] = [[]]
    used = visible_length(header)
    for line in reversed(lines):
        size = visible_length(line) + 1
        if pages[-1] and used + size > room:
            pages.append([])
            used = visible_length(header)
        pages[-1].insert(0, line)
        used += size
    return pages


def history_screen(
    t: Translations, h: CaseHistory, notes: dict[int, Note], zone: ZoneInfo, page: int = 0
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of /case: the header, then the events of that page, oldest first."""
    header = "\n".join(history_header(t, h, zone))
    lines = [event_line(t, e, h, notes, zone) for e in h.events]
    pages = paged(header, lines)
    page = min(max(page, 0), len(pages) - 1)
    shown = pages[page]
    earlier = sum(len(p) for p in pages[page + 1 :])
    later = sum(len(p) for p in pages[:page])
    body = [header, "", escape(t.gettext("History:"))] + (
        shown or [escape(t.gettext("Nothing yet."))]
    )
    if len(pages) > 1:
        first = earlier + 1
        body.append(
            escape(
                t.gettext("Events {first}–{last} of {total}").format(
                    first=first, last=earlier + len(shown), total=len(lines)
                )
            )
        )
    return "\n".join(body), page_buttons(t, compact(h.case.code), page, earlier, later)


def page_buttons(
    t: Translations, code: str, page: int, earlier: int, later: int
) -> InlineKeyboardMarkup | None:
    row = []
    if earlier:
        label = t.ngettext("◀ {count} earlier", "◀ {count} earlier", earlier)
        data = CaseButton(code, CaseAction.PAGE, str(page + 1)).data
        row.append(InlineKeyboardButton(label.format(count=earlier), callback_data=data))
    if later:
        label = t.ngettext("{count} later ▶", "{count} later ▶", later)
        data = CaseButton(code, CaseAction.PAGE, str(page - 1)).data
        row.append(InlineKeyboardButton(label.format(count=later), callback_data=data))
    return InlineKeyboardMarkup([row]) if row else None


# -- /mine, /duty off ------------------------------------------------------------------------------


def held_line(t: Translations, held: HeldCase, zone: ZoneInfo, now: datetime) -> str:
    kind = t.gettext(KINDS[CaseKind(held.kind)])
    if held.waiting_since is not None:
        state = t.gettext("waiting {time}").format(
            time=duration(t, (now - held.waiting_since).total_seconds())
        )
    else:
        state = t.gettext("answered")
    last = t.gettext("last activity {time}").format(time=when(held.last_activity, zone))
    urgent = "⚠️ " if held.urgent else ""
    return f"• {urgent}<b>{held.code}</b> · " + escape(f"{kind} · {state} · {last}")


def held_text(t: Translations, held: Sequence[HeldCase], zone: ZoneInfo) -> str:
    if not held:
        return escape(t.gettext("You have no open cases."))
    now = datetime.now(UTC)
    lines = [escape(t.gettext("Your open cases: {count}").format(count=len(held)))]
    lines += [held_line(t, h, zone, now) for h in held[:HELD_SHOWN]]
    if len(held) > HELD_SHOWN:
        lines.append(escape(t.gettext("…and {count} more").format(count=len(held) - HELD_SHOWN)))
    lines.append(escape(t.gettext("/case CODE shows a case's history.")))
    return "\n".join(lines)


def still_held_text(t: Translations, held: Sequence[HeldCase]) -> str:
    codes = ", ".join(h.code for h in held[:HELD_SHOWN]) + ("…" if len(held) > HELD_SHOWN else "")
    return t.ngettext(
        "You still hold {count} open case: {codes}. If nobody will be there for it, release "
        "it so that someone else can take it (/mine lists it).",
        "You still hold {count} open cases: {codes}. If nobody will be there for them, "
        "release them so that someone else can take them (/mine lists them).",
        len(held),
    ).format(count=len(held), codes=codes)
