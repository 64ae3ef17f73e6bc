"""Risk and the queue (issue 16): staff set a case's risk from the card (written to its
history as old→new, shown on the card); /queue lists open cases by risk, then waiting time;
cases of high and imminent risk nobody takes are posted again sooner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.settings import ConfigError, Settings
from models import AuditEntry, Case
from tests.botapi import BotApi
from tests.conftest import STAFF_CHAT_ID, make_settings
from tests.flows import report
from tests.harness import Harness, Volunteer
from tests.test_ready_answers import alerts, audit_of, command
from tests.test_staff import delivered, join_as

URGENT = [
    "Report an incident",
    "Someone is in danger now",
    "Continue",
    "Violence at home",
    "Another adult",
    "30–59",
    "Astana",
]


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


async def set_risk(v: Volunteer, code: str, level: str) -> None:
    await v.press(v.card(code), "Risk level")
    await v.press(v.card(code), level)


async def waited(harness: Harness, minutes: dict[str, int]) -> None:
    """Shift time: each case came in this many minutes ago."""
    assert harness.app is not None
    async with harness.app.services.sessions.begin() as session:
        for code, ago in minutes.items():
            await session.execute(
                update(Case)
                .where(Case.code == code)
                .values(created_at=datetime.now(UTC) - timedelta(minutes=ago))
            )


async def test_risk_is_set_from_the_card_and_written_as_old_to_new(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 1701, "Dana")
    person = harness.person(1702)
    code = await report(person)
    await delivered(harness)
    assert "⚪ Risk: not assessed" in dana.card(code)["text"]

    await dana.press(dana.card(code), "Risk level")
    assert [label for label, _ in harness.api.buttons(dana.card(code))] == [
        "🔴 Imminent",
        "🟠 High",
        "🟡 Medium",
        "🟢 Low",
        "Back",
    ]
    await dana.press(dana.card(code), "🟠 High")
    card = dana.card(code)
    assert "🟠 Risk: high" in card["text"]
    assert [label for label, _ in harness.api.buttons(card)][-2:] == ["Ready answer", "Risk level"]
    await set_risk(dana, code, "🔴 Imminent")
    await dana.press(dana.card(code), "Risk level")
    assert "✓ 🔴 Imminent" in [label for label, _ in harness.api.buttons(dana.card(code))]
    await dana.press(dana.card(code), "✓ 🔴 Imminent")  # the same again: nothing new
    assert "🔴 Risk: imminent" in dana.card(code)["text"]
    risks = [entry for entry in await audit_of(harness, code) if entry[0] == "risk"]
    assert risks == [("risk", 1701, "-→high"), ("risk", 1701, "high→imminent")]


async def test_someone_elses_case_keeps_its_risk_and_they_are_told(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 1711, "Dana")
    aidos = await join_as(harness, "psychologist", 1712, "Aidos")
    marat = await join_as(harness, "coordinator", 1713, "Marat")
    person = harness.person(1714)
    code = await report(person)
    await delivered(harness)
    await dana.press(dana.card(code), "Take")

    before = len(harness.api.calls)
    await set_risk(aidos, code, "🟢 Low")
    refusal = alerts(harness, before)[-1]
    assert refusal["text"] == (
        "Another volunteer has this case. Only they, a coordinator or an admin can change its "
        "risk level."
    )
    assert refusal["show_alert"] is True
    assert "⚪ Risk: not assessed" in dana.card(code)["text"]
    assert ("refused", 1712, f"risk {code}") in await audit_of(harness, code)

    await set_risk(marat, code, "🟡 Medium")  # a coordinator may
    assert "🟡 Risk: medium" in dana.card(code)["text"]


async def test_the_queue_lists_by_risk_then_waiting_time(harness: Harness) -> None:
    """Three open cases and a closed one; the queue in a plain staff group and in a
    private chat."""
    dana = await join_as(harness, "lawyer", 1721, "Dana")
    low = await report(harness.person(1722))
    urgent = await report(harness.person(1723), steps=URGENT, description=None)
    imminent = await report(harness.person(1724))
    closed = await report(harness.person(1725))
    await delivered(harness)
    await set_risk(dana, low, "🟢 Low")
    await set_risk(dana, imminent, "🔴 Imminent")
    await dana.press(dana.card(low), "Take")
    await dana.press(dana.card(closed), "Close")
    await dana.press(dana.card(closed), "Advice given")
    await waited(harness, {low: 200, urgent: 3, imminent: 62, closed: 500})

    text = await command(dana, "/queue", chat=STAFF_CHAT_ID)
    assert text.split("\n") == [
        "3 open cases: highest risk first, then the longest waiting.",
        "",
        f"🔴 {imminent} · imminent · not taken · waiting 1 h 2 min",
        f"🟠 {urgent} · not assessed, urgent · not taken · waiting 3 min",
        f"🟢 {low} · low · taken by Dana · waiting 3 h 20 min",
    ]
    assert await command(dana, "/queue") == text  # the same in a private chat

    stranger = harness.volunteer(1726, "Stranger")
    assert await command(stranger, "/queue") == "Only helpline staff can do this."


async def test_the_queue_in_a_forum_group(harness: Harness) -> None:
    harness.api.forums.add(STAFF_CHAT_ID)
    marat = await join_as(harness, "coordinator", 1731, "Marat")
    older = await report(harness.person(1732))
    newer = await report(harness.person(1733))
    await delivered(harness)
    await set_risk(marat, newer, "🟠 High")
    assert "🟠 Risk: high" in marat.card(newer)["text"]
    assert marat.card(newer)["message_thread_id"] != marat.card(older)["message_thread_id"]
    await waited(harness, {older: 30, newer: 2})
    text = await command(marat, "/queue", chat=STAFF_CHAT_ID)
    lines = text.split("\n")[2:]
    assert [line.split(" · ")[0] for line in lines] == [f"🟠 {newer}", f"⚪ {older}"]
    assert lines[1].endswith("· not assessed · not taken · waiting 30 min")


async def test_high_and_imminent_risk_are_posted_again_sooner(harness: Harness) -> None:
    """ESCALATE_AFTER_MINUTES 15, high 5, imminent 2 (the defaults): an urgent case nobody
    assessed counts as high; a case staff judged low waits the whole period even if urgent."""
    dana = await join_as(harness, "lawyer", 1741, "Dana")
    plain = await report(harness.person(1742))
    urgent = await report(harness.person(1743), steps=URGENT, description=None)
    imminent = await report(harness.person(1744))
    urgent_low = await report(harness.person(1745), steps=URGENT, description=None)
    await delivered(harness)
    await set_risk(dana, imminent, "🔴 Imminent")
    await set_risk(dana, urgent_low, "🟢 Low")
    assert harness.app is not None and harness.app.job_queue is not None
    [job] = [j for j in harness.app.job_queue.jobs() if j.name == "escalate"]
    app = harness.app

    async def reposted() -> list[str]:
        await job.run(app)
        await delivered(harness)
        return [
            code
            for code in (plain, urgent, imminent, urgent_low)
            for m in dana.staff_messages()
            if "Nobody has taken" in m.get("text", "") and f"<b>{code}</b>" in m["text"]
        ]

    await waited(harness, dict.fromkeys((plain, urgent, imminent, urgent_low), 3))
    assert await reposted() == [imminent]
    await waited(harness, dict.fromkeys((plain, urgent, imminent, urgent_low), 6))
    assert await reposted() == [urgent, imminent]
    await waited(harness, dict.fromkeys((plain, urgent, imminent, urgent_low), 16))
    assert sorted(await reposted()) == sorted([plain, urgent, imminent, urgent_low])
    repost = next(m for m in dana.staff_messages() if f"<b>{imminent}</b>" in m.get("text", ""))
    assert repost["has_protected_content"] is True


async def test_sooner_escalation_cannot_be_set_later_than_the_default(botapi: BotApi) -> None:
    with pytest.raises(ConfigError) as refused:
        make_settings(botapi, "sqlite+aiosqlite://", escalate_high_risk_minutes=20)
    assert refused.value.lines == [
        "ESCALATE_HIGH_RISK_MINUTES is longer than ESCALATE_AFTER_MINUTES: high-risk cases "
        "must be posted again sooner, not later"
    ]
    with pytest.raises(ConfigError):
        make_settings(botapi, "sqlite+aiosqlite://", escalate_imminent_risk_minutes=6)


async def test_risk_history_uses_one_row_per_change(harness: Harness) -> None:
    """Every change is an audit row of its case (issue 16's history reads them)."""
    dana = await join_as(harness, "lawyer", 1751, "Dana")
    code = await report(harness.person(1752))
    await delivered(harness)
    for level in ("🟡 Medium", "🟠 High", "🟡 Medium"):
        await set_risk(dana, code, level)
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        rows = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "risk"))).all()
    assert [(r.detail, r.case_id is not None) for r in rows] == [
        ("-→medium", True),
        ("medium→high", True),
        ("high→medium", True),
    ]
