"""/stats and /export for admins and coordinators."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from babel.support import Translations
from telegram import InputFile, Update
from telegram.ext import CommandHandler, ContextTypes, filters

from bot.app import QorgauApplication
from bot.services.intake_form import KINDS, REGION, label, question
from bot.services.stats import Report
from handlers.common import Viewer, choice_label, viewer
from handlers.staff_admin import reply

MAX_DAYS = 3660


async def staff_viewer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Viewer | None:
    """Admins and coordinators only; others are told no."""
    v = await viewer(update, context)
    assert update.effective_user is not None
    member = await v.services.staff.get(update.effective_user.id)
    if not await v.services.staff.is_admin(update.effective_user.id) and (
        member is None or member.role != "coordinator"
    ):
        await reply(update, v._("Only admins and coordinators can do this."))
        return None
    return v


def days_arg(context: ContextTypes.DEFAULT_TYPE) -> int:
    for arg in context.args or []:
        if arg.isdigit():
            return max(1, min(int(arg), MAX_DAYS))
    return 30


def category_label(t: Translations, kind: str, category: str) -> str:
    return choice_label(t, question("category", {"kind": kind}), category)


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
        lines += [f"• {v._(KINDS[k])}: {n}" for k, n in r.by_kind.most_common()]
        lines.append(v._("By topic:"))
        lines += [
            f"• {category_label(v.t, k, c)}: {n}" for (k, c), n in r.by_category.most_common()
        ]
        lines.append(v._("By region:"))
        lines += [
            f"• {v._(label(REGION, code) or code)}: {n}" for code, n in r.by_region.most_common()
        ]
        lines.append(v._("By status:"))
        lines += [
            f"• {v._('open') if s == 'open' else v._('closed')}: {n}"
            for s, n in r.by_status.most_common()
        ]
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


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await staff_viewer(update, context)
    if v is None:
        return
    r = await v.services.stats.report(days_arg(context))
    await reply(update, report_text(v, r))
    if len(r.by_category) > 1:
        assert update.effective_message is not None
        await update.effective_message.reply_photo(chart_png(v, r))


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await staff_viewer(update, context)
    if v is None:
        return
    assert update.effective_user is not None and update.effective_message is not None
    days = days_arg(context)
    wants_text = "text" in (context.args or [])
    # Free text leaves the bot only for an admin who asks for it.
    with_text = wants_text and await v.services.staff.is_admin(update.effective_user.id)
    data = await v.services.stats.export_csv(days, update.effective_user.id, with_text=with_text)
    name = f"qorgau-cases-{datetime.now(UTC):%Y%m%d}-{days}d.csv"
    caption = v.n_(
        "Cases of the last {count} day, anonymised.",
        "Cases of the last {count} days, anonymised.",
        days,
    ).format(count=days)
    if wants_text and not with_text:
        caption += "\n" + v._("Free text is only exported for admins.")
    await update.effective_message.reply_document(
        InputFile(io.BytesIO(data.encode("utf-8-sig")), filename=name), caption=caption
    )


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("stats", stats, filters=private))
    application.add_handler(CommandHandler("export", export, filters=private))
