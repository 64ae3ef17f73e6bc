"""What campaigns look like to an admin (audience, schedule, list, report) and the region
question a subscriber may answer (opt-in: the only source of a person's region here)."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.support import Translations
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.broadcasts import Report
from bot.services.campaigns import in_quiet_hours, local
from bot.services.intake_form import MORE_REGIONS, REGION, REGIONS
from bot.settings import LOCALES, Settings
from handlers import callbacks
from handlers.callbacks import ComposeAction, ComposeButton
from handlers.screens.broadcast import STATUS
from handlers.screens.common import LANGUAGE_NAMES, Viewer, button, in_columns, keyboard
from models import Broadcast

SEND = ComposeButton(ComposeAction.SEND).data
SEND_NIGHT = ComposeButton(ComposeAction.SEND_NIGHT).data
CANCEL = ComposeButton(ComposeAction.CANCEL).data

# The three cities, then the seventeen regions (the intake's list, without "other",
# "outside Kazakhstan" and "rather not say").
REGION_NAMES = dict(
    [c for c in REGION.choices if c[0] not in (MORE_REGIONS, "abroad", "na")]
    + list(REGIONS.choices)
)


def quiet_text(v: Viewer) -> str:
    quiet = v.services.settings.quiet
    return f"{quiet[0]:02d}:00–{quiet[1]:02d}:00" if quiet else ""


def is_quiet(v: Viewer, when: datetime) -> bool:
    settings = v.services.settings
    return in_quiet_hours(when, settings.broadcast_timezone, settings.quiet)


def night_now(v: Viewer) -> bool:
    return is_quiet(v, datetime.now(UTC))


def audience_label(t: Translations, audience: str) -> str:
    kind, _, value = audience.partition(":")
    if kind == "lang":
        return t.gettext("subscribers whose language is {language}").format(
            language=LANGUAGE_NAMES[value]
        )
    if kind == "region":
        name = t.gettext(REGION_NAMES.get(value, value))
        return t.gettext("those who chose to get news for {region}").format(region=name)
    return t.gettext("all subscribers")


def confirm_screen(v: Viewer, count: int, audience: str) -> tuple[str, InlineKeyboardMarkup]:
    rate = v.services.settings.broadcast_rate
    text = v.n_(
        "This goes to {count} subscriber, silently, at most {rate} per second. Send?",
        "This goes to {count} subscribers, silently, at most {rate} per second. Send?",
        count,
    ).format(count=count, rate=f"{rate:g}")
    text += "\n" + v._("Audience: {audience}").format(audience=audience_label(v.t, audience))
    markup = InlineKeyboardMarkup(
        [
            [button(v._("Send"), SEND), button(v._("Schedule…"), callbacks.campaign_time())],
            [button(v._("Choose the audience"), callbacks.audience())],
            [button(v._("Cancel"), CANCEL)],
        ]
    )
    return text, markup


def audience_markup(v: Viewer) -> InlineKeyboardMarkup:
    rows = [[button(v._("All subscribers"), callbacks.audience("all"))]]
    rows += [[button(LANGUAGE_NAMES[code], callbacks.audience(f"lang:{code}"))] for code in LOCALES]
    rows.append([button(v._("By region (who shared it)"), callbacks.audience("regions"))])
    return InlineKeyboardMarkup(rows)


def region_buttons(v: Viewer, prefix: str) -> list[list[InlineKeyboardButton]]:
    return in_columns(
        [button(v._(name), f"{prefix}{code}") for code, name in REGION_NAMES.items()], 2
    )


def night_now_screen(v: Viewer, quiet: str) -> tuple[str, InlineKeyboardMarkup]:
    text = v._(
        "It is night now (quiet hours {hours}): people may be asleep. Send now anyway, or "
        "schedule it for the morning?"
    ).format(hours=quiet)
    markup = InlineKeyboardMarkup(
        [
            [button(v._("Send now anyway"), SEND_NIGHT)],
            [button(v._("Schedule…"), callbacks.campaign_time())],
            [button(v._("Cancel"), CANCEL)],
        ]
    )
    return text, markup


def ask_time_text(v: Viewer, settings: Settings) -> str:
    return v._(
        "When should it go out? Send the date and time in {zone} time, for example "
        "25.11 18:30 (or just 18:30 for today)."
    ).format(zone=settings.broadcast_timezone)


def night_time_screen(v: Viewer, when: str, quiet: str) -> tuple[str, InlineKeyboardMarkup]:
    text = v._(
        "{when} is in the quiet hours ({hours}): people may be asleep. Send at this time anyway?"
    ).format(when=when, hours=quiet)
    markup = InlineKeyboardMarkup(
        [
            [button(v._("Yes, at this time"), callbacks.campaign_night(True))],
            [button(v._("Choose another time"), callbacks.campaign_night(False))],
        ]
    )
    return text, markup


def report_line(t: Translations, report: Report, zone: str) -> str:
    b, c = report.broadcast, report.progress.counts
    status = STATUS.get(b.status, b.status)
    return t.gettext(
        "#{number} · {status} · {started}\n"
        "sent {sent} · blocked {blocked} · unknown {unknown} · unsubscribed within a day "
        "{unsubscribed}"
    ).format(
        number=b.id,
        status=t.gettext(status),
        started=local(b.started_at, zone),
        sent=c.get("sent", 0),
        blocked=c.get("blocked", 0),
        unknown=c.get("unknown", 0),
        unsubscribed=report.unsubscribed,
    )


def campaigns_screen(
    v: Viewer, scheduled: list[Broadcast], reports: list[Report]
) -> tuple[str, InlineKeyboardMarkup | None]:
    zone = v.services.settings.broadcast_timezone
    lines = [v._("Scheduled campaigns ({zone} time):").format(zone=zone)]
    rows = []
    for b in scheduled:
        assert b.scheduled_at is not None
        night = " 🌙" if b.night_ok else ""
        lines.append(
            f"#{b.id} · {local(b.scheduled_at, zone)}{night} · {audience_label(v.t, b.audience)}"
        )
        rows.append(
            [
                button(
                    v._("Change the time of #{number}").format(number=b.id),
                    callbacks.campaign_time(b.id),
                ),
                button(
                    v._("Cancel #{number}").format(number=b.id), callbacks.cancel_campaign(b.id)
                ),
            ]
        )
    if not scheduled:
        lines.append(v._("None."))
    if reports:
        lines += ["", v._("Latest campaigns:")]
        lines += [report_line(v.t, r, zone) for r in reports]
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


def region_question(v: Viewer) -> tuple[str, InlineKeyboardMarkup]:
    text = v._(
        "Would you like to get news for your region too? Only if you want: we use it for "
        "nothing else."
    )
    return text, keyboard(
        v,
        [
            [button(v._("Choose a region"), callbacks.SUBSCRIPTION_REGIONS)],
            [button(v._("No, thanks"), callbacks.SUBSCRIPTION_REGION_PREFIX + "none")],
        ],
    )


def region_choices(v: Viewer) -> InlineKeyboardMarkup:
    return keyboard(v, region_buttons(v, callbacks.SUBSCRIPTION_REGION_PREFIX))
