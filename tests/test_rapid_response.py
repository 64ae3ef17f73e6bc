"""Rapid response (issue 13): urgency decided by the rules of bot/data/urgency.toml; an
urgent case pings every coordinator and admin privately at once, on duty or not; an urgent
child case gets the steps of bot/data/rapid_response.toml under its card, each press
recorded with its time and who pressed; a missed deadline is told once; /stats shows the
median time to each step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.services.rapid_response import ProtocolError, load_protocol
from bot.services.urgency import Facts, UrgencyRuleError, load_rules, urgent_because
from bot.settings import Settings
from models import Case, CaseStep
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import code_on_screen, report, tap_all, tr
from tests.harness import Harness, Volunteer
from tests.test_ready_answers import command
from tests.test_register import POLITE
from tests.test_staff import delivered, join_as

# A 13-year-old writes about sexual abuse of themself.
CHILD_ABUSE = [
    "Report an incident",
    "Yes, it is safe",
    "Sexual violence",
    "Me",
    "Under 14",
    "Almaty",
]
ADULT = [
    "Report an incident",
    "Yes, it is safe",
    "Violence at home",
    "Me",
    "30–59",
    "Astana",
]


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


def private_texts(harness: Harness, user_id: int) -> list[str]:
    return [
        str(m.get("text", ""))
        for m in sorted(harness.api.messages[user_id].values(), key=lambda m: m["message_id"])
        if m["from"]["is_bot"]
    ]


def steps_message(v: Volunteer, code: str) -> dict[str, object]:
    found = [
        m
        for m in v.staff_messages()
        if m["from"]["is_bot"] and m.get("text", "").startswith(f"🚨 <b>{code}:")
    ]
    assert found, f"no rapid-response steps for {code}"
    return found[-1]


async def shifted(harness: Harness, code: str, minutes: int) -> None:
    """Shift time: the case came in this many minutes ago (its deadlines with it)."""
    assert harness.app is not None
    ago = timedelta(minutes=minutes)
    async with harness.app.services.sessions.begin() as session:
        case = await session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        shift = datetime.now(UTC) - ago - case.created_at
        await session.execute(
            update(Case).where(Case.id == case.id).values(created_at=case.created_at + shift)
        )
        for step in (
            await session.scalars(select(CaseStep).where(CaseStep.case_id == case.id))
        ).all():
            step.due_at = step.due_at + shift
            if step.done_at is not None:
                step.done_at = step.done_at + shift


async def sweep(harness: Harness) -> None:
    assert harness.app is not None and harness.app.job_queue is not None
    [job] = [j for j in harness.app.job_queue.jobs() if j.name == "escalate"]
    await job.run(harness.app)
    await delivered(harness)


def test_the_rules_cover_the_named_cases() -> None:
    def urgent(**kw: object) -> list[str]:
        base: dict[str, object] = {
            "kind": "report",
            "category": "other",
            "age_band": "30_59",
            "affected": "me",
        }
        return urgent_because(Facts(**{**base, **kw}))  # type: ignore[arg-type]

    assert urgent() == []
    assert urgent(category="home") == []
    assert urgent(danger=True) == ["danger_now"]
    assert urgent(category="child", affected="my_child") == ["child_abuse"]
    assert "sexual_violence_minor" in urgent(category="sexual", age_band="14_17")
    assert urgent(category="sexual", age_band="30_59") == []
    assert urgent(category="trafficking") == ["trafficking"]
    assert urgent(category="home", age_band="u14") == ["under_14_violence"]
    assert urgent(kind="psych", category="violence", age_band="u14") == ["under_14_violence"]


def test_a_wrong_rule_or_step_stops_the_start(tmp_path: Path) -> None:
    wrong = tmp_path / "urgency.toml"
    wrong.write_text('[[rule]]\nname = "x"\ndescription = "x"\ncategory = ["nonsense"]\n')
    with pytest.raises(UrgencyRuleError, match="unknown category"):
        load_rules(wrong)
    wrong.write_text('[[rule]]\nname = "x"\ndescription = "x"\n')
    with pytest.raises(UrgencyRuleError, match="no condition"):
        load_rules(wrong)
    steps = tmp_path / "steps.toml"
    steps.write_text('[[step]]\nkey = "ack"\nminutes = 0\nrole = "coordinator"\nen = "A"\n')
    with pytest.raises(ProtocolError, match="minutes"):
        load_protocol(steps)
    assert [s.key for s in load_protocol()] == ["ack", "assess", "contact", "follow_up"]


async def test_a_child_reporting_sexual_abuse_with_nobody_on_duty(harness: Harness) -> None:
    """A 13-year-old, nobody on duty: an urgent card mentioning every coordinator and admin,
    each of them pinged privately at once; the steps under the card; a press is recorded and
    its button goes; a missed deadline is told once; /stats shows the time to each step."""
    marat = await join_as(harness, "coordinator", 1301, "Marat")
    dana = await join_as(harness, "lawyer", 1302, "Dana")
    for v in (marat, dana):
        await v.send("/duty off")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    pinged_before = {u: len(private_texts(harness, u)) for u in (ADMIN_ID, 1301, 1302)}

    child = harness.person(1303)
    code = await report(child, steps=CHILD_ABUSE, description="A grown-up touches me.")
    await delivered(harness)

    assert (
        "No one is on duty right now, so we have told the people in charge of the helpline "
        "straight away. If you are in danger, call the numbers below now."
    ) in child.text
    assert "few hours" not in child.text
    card = marat.card(code)
    assert "⚠️ URGENT: a child at risk" in card["text"]
    assert "Risk: not assessed (urgent, so it counts as high)" in card["text"]
    assert 'href="tg://user?id=1301"' in card["text"]  # off duty, pinged all the same
    assert f'href="tg://user?id={ADMIN_ID}"' in card["text"]
    for user in (ADMIN_ID, 1301):
        new = private_texts(harness, user)[pinged_before[user] :]
        assert new == [
            f"🚨 Urgent case {code} about a child. Nobody has taken it yet. Open the staff "
            "chat now: the rapid-response steps are under the card."
        ]
    assert private_texts(harness, 1302)[pinged_before[1302] :] == []  # a lawyer off duty

    steps = steps_message(marat, code)
    assert [label for label, _ in harness.api.buttons(steps)] == [
        "☐ Acknowledge",
        "☐ Assess immediate danger",
        "☐ Contact 111/102 or guardianship",
        "☐ Follow up",
    ]
    await shifted(harness, code, 3)
    await marat.press(steps, "☐ Acknowledge")
    steps = steps_message(marat, code)
    assert "✅ Acknowledge: done at" in str(steps["text"])
    assert "by Marat" in str(steps["text"])
    assert "☐ Acknowledge" not in [label for label, _ in harness.api.buttons(steps)]
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        done = (await session.scalars(select(CaseStep).where(CaseStep.done_at.is_not(None)))).all()
    assert [(s.step, s.done_by) for s in done] == [("ack", 1301)]

    # 20 minutes on: "assess" (15 minutes) is late; told once, however often the sweep runs.
    await shifted(harness, code, 20)
    await sweep(harness)
    await sweep(harness)
    late = [
        m["text"]
        for m in marat.staff_messages()
        if m["from"]["is_bot"] and str(m.get("text", "")).startswith("⏰ " + code)
    ]
    assert len(late) == 1
    assert late[0].startswith(
        f"⏰ {code}: the step “Assess immediate danger” is not done 15 minutes after the case "
        "came in."
    )
    assert 'href="tg://user?id=1301"' in late[0] and f"tg://user?id={ADMIN_ID}" in late[0]

    await marat.press(steps_message(marat, code), "☐ Assess immediate danger")
    text = await command(admin, "/stats")
    assert "Rapid response, median time from the case coming in:" in text
    assert "• Acknowledge: 3 min (1 case)" in text
    assert "• Assess immediate danger: 20 min (1 case)" in text

    print("\n--- the child sees ---")
    for line in private_texts(harness, 1303)[-1:]:
        print(line)
    print("--- the staff chat sees ---")
    for m in marat.staff_messages():
        if m["from"]["is_bot"] and code in str(m.get("text", "")):
            print(m["text"], harness.api.buttons(m), sep="\n", end="\n\n")
    print("--- the coordinator's private chat ---")
    print(private_texts(harness, 1301)[-1])


async def test_an_adult_case_is_not_urgent_and_pings_nobody_privately(harness: Harness) -> None:
    await join_as(harness, "coordinator", 1311, "Marat")
    before = len(private_texts(harness, ADMIN_ID))
    code = await report(harness.person(1312), steps=ADULT, description=None)
    await delivered(harness)
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.code == code))
        assert case is not None and case.urgent is False
        assert (await session.scalars(select(CaseStep))).all() == []
    assert private_texts(harness, ADMIN_ID)[before:] == []


@pytest.mark.parametrize("locale", ["en", "ru", "kk"])
async def test_a_child_who_asked_not_to_be_answered_is_promised_nothing(
    harness: Harness, locale: str
) -> None:
    """ "No, just record it": no promise of an answer; "Emergency numbers" pressed later from
    the menu still speaks to a child, the children's lines first (issue 13)."""
    child = harness.person(1321, language_code=locale)
    await child.send("/start")
    await tap_all(child, [*CHILD_ABUSE, "Skip", "No, just record it", "I agree", "Send"], locale)
    sent = child.text
    saved = (
        "Saved! Your code: {code}\n\nWe will not write to you. Keep the code if you want to "
        "ask about it later."
    )
    assert sent.startswith(tr(locale, saved).format(code=code_on_screen(sent))), sent
    promise = "Someone from the helpline will write to you here, as soon as they can."
    assert tr(locale, promise).split(",")[0] not in sent

    await child.send("/start")
    await child.tap(tr(locale, "Emergency numbers"))
    numbers = child.text
    assert numbers.startswith(tr(locale, "You can call here for advice and support:")), numbers
    assert tr(locale, "If you are in danger now, call:") in numbers
    if locale in POLITE:
        assert not POLITE[locale].search(sent + numbers), sent + numbers

    adult = harness.person(1322, language_code=locale)
    await adult.send("/start")
    await adult.tap(tr(locale, "Emergency numbers"))
    assert adult.text.startswith(tr(locale, "If you or someone else is in danger now, call:"))


async def test_someone_in_danger_pings_the_right_role_on_duty(harness: Harness) -> None:
    """An adult in danger asking for legal help: the lawyer on duty and every coordinator and
    admin are pinged privately; a psychologist is not; no child steps."""
    dana = await join_as(harness, "lawyer", 1331, "Dana")
    await join_as(harness, "psychologist", 1332, "Aidos")
    before = {u: len(private_texts(harness, u)) for u in (ADMIN_ID, 1331, 1332)}
    steps = [
        "Legal help",
        "Someone is in danger now",
        "Continue",
        "Violence at home",
        "Me",
        "30–59",
        "Astana",
    ]
    code = await report(harness.person(1333), steps=steps, description=None)
    await delivered(harness)
    ping = f"🚨 Urgent case {code}. Nobody has taken it yet. Open the staff chat now."
    assert private_texts(harness, 1331)[before[1331] :] == [ping]
    assert private_texts(harness, ADMIN_ID)[before[ADMIN_ID] :] == [ping]
    assert private_texts(harness, 1332)[before[1332] :] == []
    assert "⚠️ URGENT: someone is in danger" in dana.card(code)["text"]
    assert not [m for m in dana.staff_messages() if str(m.get("text", "")).startswith("🚨")]
