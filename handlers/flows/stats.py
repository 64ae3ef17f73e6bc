"""/stats and /export for admins and coordinators."""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from babel.support import Translations
from telegram import InputFile, Update
from telegram.ext import CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_
from bot.services.intake_form import KINDS, REGION, answers_of, label, question
from bot.services.rapid_response import protocol
from bot.services.stats import Report, packed_for_upload
from handlers.access import SENIORS, allowed
from handlers.screens.common import Viewer, choice_label, reply, viewer
from handlers.screens.directory import referrals_report_text
from models.enums import CaseKind

MAX_DAYS = 3660
# What Telegram lets a bot upload (Bot API: files up to 50 MB).
UPLOAD_LIMIT_BYTES = 50 * 1000 * 1000
STATUSES = {"open": N_("open"), "closed": N_("closed")}


def days_arg(context: QorgauContext) -> int:
    for arg in context.args or []:
        if arg.isdigit():
            return max(1, min(int(arg), MAX_DAYS))
    return 30


def category_label(t: Translations, kind: str, category: str) -> str:
    return choice_label(t, question("category", answers_of(kind)), category)


def report_text(v: Viewer, r: Report) -> str:
    def minutes(value: float | None) -> str:
        return "—" if value is None else f"{value:g}"

    lines = [
        v.n_(
            "Cases in the last {count} day: {total}",
            "Cases in the last {count} days: {total}",
            r.days,
        ).format(count=r.days, total=r.total)
    ]
    if r.total:
        lines.append("")
        lines.append(v._("By kind:"))
        lines += [f"• {v._(KINDS[CaseKind(k)])}: {n}" for k, n in r.by_kind.most_common()]
        lines.append(v._("By topic:"))
        lines += [
            f"• {category_label(v.t, k, c)}: {n}" for (k, c), n in r.by_category.most_common()
        ]
        lines.append(v._("By region:"))
        lines += [
            f"• {v._(label(REGION, code) or code)}: {n}" for code, n in r.by_region.most_common()
        ]
        lines.append(v._("By status:"))
        lines += [f"• {v._(STATUSES.get(s, s))}: {n}" for s, n in r.by_status.most_common()]
    lines.append("")
    lines.append(v._("Median time to take: {minutes} min").format(minutes=minutes(r.median_take)))
    lines.append(
        v._("Median time to first answer: {minutes} min").format(minutes=minutes(r.median_answer))
    )
    if r.ratings:
        average = r.average_rating or 0
        lines.append(
            v._("Rating: {average} of 5 ({count} answers)").format(
                average=f"{average:.1f}", count=sum(r.ratings.values())
            )
        )
    return "\n".join(lines)


def steps_report_text(v: Viewer, medians: Mapping[str, tuple[timedelta, int]]) -> str:
    """Median time from a case coming in to each rapid-response step (docs/rapid-response.md)."""
    if not medians:
        return ""
    lines = ["", "", v._("Rapid response, median time from the case coming in:")]
    for step in protocol():
        if step.key in medians:
            wait, count = medians[step.key]
            lines.append(
                v.n_(
                    "• {step}: {minutes} min ({count} case)",
                    "• {step}: {minutes} min ({count} cases)",
                    count,
                ).format(
                    step=step.name(v.locale),
                    minutes=f"{round(wait.total_seconds() / 60, 1):g}",
                    count=count,
                )
            )
    return "\n".join(lines)


def chart_png(v: Viewer, r: Report) -> bytes:
    """Cases by topic, as a bar chart: the spread is easier to see than to read."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    items = r.by_category.most_common(12)[::-1]
    labels = [category_label(v.t, k, c) for (k, c), _ in items]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(items) + 1.2), dpi=110)
    ax.barh(labels, [n for _, n in items], color="#2f6f8f")
    ax.set_title(
        v.n_(
            "Cases by topic, last {count} day", "Cases by topic, last {count} days", r.days
        ).format(count=r.days)
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


@allowed(SENIORS)
async def stats(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    r = await v.services.stats.report(days_arg(context))
    referred = await v.services.referrals.report(days_arg(context))
    steps = await v.services.rapid_response.medians(days_arg(context))
    text = report_text(v, r) + steps_report_text(v, steps)
    await reply(update, text + "\n\n" + referrals_report_text(v.t, referred))
    if len(r.by_category) > 1:
        assert update.effective_message is not None
        await update.effective_message.reply_photo(chart_png(v, r))


@allowed(SENIORS)
async def export(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    assert update.effective_user is not None and update.effective_message is not None
    days = days_arg(context)
    wants_text = "text" in (context.args or [])
    # Free text leaves the bot only for an admin who asks for it.
    with_text = wants_text and await v.services.staff.is_admin(update.effective_user.id)
    kind = "xlsx" if "xlsx" in (context.args or []) else "csv"
    name = f"qorgau-cases-{datetime.now(UTC):%Y%m%d}-{days}d.{kind}"
    caption = v.n_(
        "Cases of the last {count} day, anonymised.",
        "Cases of the last {count} days, anonymised.",
        days,
    ).format(count=days)
    if wants_text and not with_text:
        caption += "\n" + v._("Free text is only exported for admins.")
    # Telegram needs a file: the rows are streamed to a temporary one, then sent.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        await v.services.stats.export_to(
            path, days, update.effective_user.id, kind=kind, with_text=with_text
        )
        path = await asyncio.to_thread(packed_for_upload, path)
        if path.stat().st_size > UPLOAD_LIMIT_BYTES:
            await reply(update, v._("The file is too large to send. Ask for fewer days."))
            return
        with path.open("rb") as file:
            await update.effective_message.reply_document(
                InputFile(file, filename=path.name), caption=caption
            )


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("stats", stats, filters=private))
    application.add_handler(CommandHandler("export", export, filters=private))
