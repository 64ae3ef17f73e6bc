"""One access rule: roles decide who may run a command or press a button, ownership decides
who may work a taken case; every refusal is told and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.settings import Settings
from models import AuditEntry
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import cases, report
from tests.harness import Harness
from tests.test_staff import delivered, join_as


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


async def refusals(harness: Harness) -> list[tuple[int, str | None]]:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == "refused"))
        return [(e.staff_id, e.detail) for e in rows]


def alerts(harness: Harness, since: int) -> list[str]:
    return [
        c.params.get("text", "")
        for c in harness.api.calls[since:]
        if c.method == "answerCallbackQuery"
    ]


async def test_only_the_owner_or_a_senior_works_a_taken_case(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 701, "Dana")
    erlan = await join_as(harness, "psychologist", 702, "Erlan")
    aigul = await join_as(harness, "coordinator", 703, "Aigul")
    person = harness.person(704)
    code = await report(person)
    await delivered(harness)
    await dana.press(dana.card(code), "Take")

    # Another volunteer may not release, close or answer Dana's case.
    calls = len(harness.api.calls)
    await erlan.press(erlan.card(code), "Release")
    assert alerts(harness, calls) == [
        "Dana has this case. Only they, a coordinator or an admin can answer, release, close "
        "or reopen it."
    ]
    await erlan.press(erlan.card(code), "Close")
    await erlan.press(erlan.card(code), "Advice given")
    await erlan.write_in_staff_chat("Erlan here", reply_to=erlan.card(code))
    await delivered(harness)
    assert not any("Erlan here" in m.get("text", "") for m in person.bot_messages())
    [case] = await cases(harness)
    assert (case.status, case.taken_by) == ("open", 701)
    refused = await refusals(harness)
    assert [who for who, _ in refused] == [702, 702, 702]
    assert {detail.split()[0] for _, detail in refused if detail} == {"release", "close", "reply"}

    # A coordinator may; so may the owner.
    await aigul.write_in_staff_chat("Aigul here", reply_to=aigul.card(code))
    await delivered(harness)
    assert person.screen["text"] == "Helpline: Aigul here"
    await dana.press(dana.card(code), "Release")
    [case] = await cases(harness)
    assert case.taken_by is None


async def test_admin_commands_refused_and_audited_for_others(harness: Harness) -> None:
    volunteer = await join_as(harness, "lawyer", 710, "Dana")
    for command in ("/invite lawyer", "/staff", "/audit", "/broadcast", "/stats"):
        await volunteer.send(command)
        assert volunteer.text in (
            "Only admins can do this.",
            "Only admins and coordinators can do this.",
        ), command
    refused = await refusals(harness)
    assert [who for who, _ in refused] == [710] * 5
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/staff")
    assert admin.text.startswith("Staff (id, name, role, duty):")
