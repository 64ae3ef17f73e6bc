"""How services of the directory, referrals and rights pages read, for the person and for
the staff chat (the flows and the outbox sender share these)."""

from __future__ import annotations

from collections.abc import Sequence

from babel.support import Translations

from bot.services.directory import SERVICE_KINDS, Service, ServiceKind
from bot.services.referrals import SHAREABLE, STATUSES, ReferralReport
from bot.services.rights import Page
from models import ReferralStatus


def service_text(t: Translations, service: Service, locale: str) -> str:
    """One service: its name, then how to reach it, each on a line of its own."""
    lines = [f"• {service.in_locale(service.name, locale)}"]
    reach = [f"☎ {service.phone}"] if service.phone else []
    if service.hours:
        reach.append(service.in_locale(service.hours, locale))
    if reach:
        lines.append("   " + " · ".join(reach))
    for field in (service.address, service.how):
        if field:
            lines.append("   " + service.in_locale(field, locale))
    return "\n".join(lines)


def services_text(t: Translations, services: Sequence[Service], locale: str) -> str:
    return "\n\n".join(service_text(t, s, locale) for s in services)


def shared_text(t: Translations, codes: str) -> str:
    """What the person allowed to be passed on, in words (or that nothing was)."""
    chosen = [t.gettext(SHAREABLE[c]) for c in codes if c in SHAREABLE]
    return ", ".join(chosen) if chosen else t.gettext("nothing")


def page_text(t: Translations, page: Page) -> str:
    """A rights page with its source, in the reader's language."""
    source = t.gettext("Source: {source}").format(source=t.gettext(page.source))
    return f"{t.gettext(page.title)}\n\n{t.gettext(page.body)}\n\n{source}"


def referrals_report_text(t: Translations, report: ReferralReport) -> str:
    """For /stats: referrals by kind of service and by outcome, and the share who got help."""
    if not sum(report.by_kind.values()):
        return t.gettext("Referrals: none")
    lines = [t.gettext("Referrals by kind of service:")]
    lines += [
        f"• {t.gettext(SERVICE_KINDS.get(ServiceKind(k), k) if k in set(ServiceKind) else k)}: {n}"
        for k, n in report.by_kind.most_common()
    ]
    lines.append(t.gettext("Referrals by outcome:"))
    lines += [
        f"• {t.gettext(STATUSES[ReferralStatus(s)]) if s in set(ReferralStatus) else s}: {n}"
        for s, n in report.by_status.most_common()
    ]
    share = report.got_help_share
    if share is not None:
        lines.append(
            t.gettext("Got help: {share} of the {count} who answered the follow-up").format(
                share=f"{round(share * 100)}%", count=report.asked
            )
        )
    return "\n".join(lines)
