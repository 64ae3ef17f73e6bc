"""Staff access that holds under attack: invites are single-use even when opened at the same
moment, removing a volunteer takes them out of every staff chat, unused invites can be listed
and revoked (issue 15)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from models import AuditEntry, StaffMember
from tests.botapi import BotApi, User
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, make_settings
from tests.flows import report
from tests.harness import Harness
from tests.test_staff import join_as

WELCOME = "Welcome to the team."
NOT_VALID = "This invitation link is not valid any more."


async def test_one_invite_opened_by_two_at_the_same_moment_makes_one_admin(
    botapi: BotApi, any_database_url: str
) -> None:
    h = Harness(botapi, make_settings(botapi, any_database_url, default_locale="en"))
    await h.start()
    try:
        admin = h.volunteer(ADMIN_ID, "Admin")
        for trial in range(5):
            await admin.send("/invite admin")
            argument = admin.text.split("start=")[1]
            first, second = User(1600 + 2 * trial, "A"), User(1601 + 2 * trial, "B")
            # Both updates are queued before the bot takes either: they run concurrently.
            await botapi.send(first, f"/start {argument}")
            await botapi.send(second, f"/start {argument}")
            h.pushed(botapi._updates[-1]["update_id"])
            await h.settle()
            answers = sorted(botapi.screen(u.id)["text"].split(".")[0] for u in (first, second))
            assert answers == [NOT_VALID[:-1], WELCOME[:-1]], f"trial {trial}: {answers}"
            assert h.app is not None
            async with h.app.services.sessions() as session:
                admins = await session.scalar(
                    select(func.count()).where(
                        StaffMember.telegram_id.in_([first.id, second.id]),
                        StaffMember.role == "admin",
                    )
                )
            assert admins == 1, f"trial {trial}: {admins} new admins from one invite"
    finally:
        await h.stop()


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


async def audit_details(harness: Harness, action: str) -> list[str]:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        entries = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [e.detail or "" for e in entries]


async def test_removing_a_volunteer_bans_them_from_every_staff_chat(harness: Harness) -> None:
    legal_chat, other_chat = -1009990011, -1009990012
    harness.api.bot_not_admin.add(other_chat)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send(f"/route add {legal_chat} kind=legal")
    await admin.send(f"/route add {other_chat} kind=psych")
    dana = await join_as(harness, "lawyer", 1690, "Dana")
    code = await report(harness.person(1691))
    await harness.until(harness.outbox_empty)

    await admin.send("/remove 1690")
    assert admin.text.splitlines() == [
        "1690 is off the staff roster.",
        "Staff chats:",
        f"• {STAFF_CHAT_ID}: banned",
        f"• {other_chat}: not banned: the bot is not an admin there with the right to ban members",
        f"• {legal_chat}: banned",
        "Where they are not banned, they still read every card: remove them there by hand.",
        "Unused invites they made, now revoked: 0.",
        "They stay banned; a new invite from /invite lets them back in.",
    ]
    assert 1690 in harness.api.banned[STAFF_CHAT_ID] and 1690 in harness.api.banned[legal_chat]
    with pytest.raises(PermissionError):
        await dana.write_in_staff_chat("Still here?", reply_to=dana.card(code))
    assert sorted(await audit_details(harness, "ban")) == sorted(
        [
            f"1690 in {STAFF_CHAT_ID}: banned",
            f"1690 in {legal_chat}: banned",
            f"1690 in {other_chat}: not banned: the bot is not an admin there with the right "
            "to ban members",
        ]
    )
    assert await audit_details(harness, "remove") == ["1690, invites revoked: 0"]

    # Invited again later: the ban is lifted where the bot put it.
    await join_as(harness, "lawyer", 1690, "Dana")
    assert 1690 not in harness.api.banned[STAFF_CHAT_ID]
    assert 1690 not in harness.api.banned[legal_chat]


async def test_a_chat_admin_cannot_be_banned_and_the_admin_is_told(harness: Harness) -> None:
    harness.api.chat_admins[STAFF_CHAT_ID].add(1692)
    await join_as(harness, "coordinator", 1692, "Asel")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/remove 1692")
    assert (
        f"• {STAFF_CHAT_ID}: not banned: they are an admin of that chat, only its owner can "
        "remove them" in admin.text
    )
    assert "remove them there by hand" in admin.text


async def test_a_removed_admin_loses_the_invites_they_made(harness: Harness) -> None:
    other_admin = await join_as(harness, "admin", 1693, "Erlan")
    await other_admin.send("/invite lawyer")
    argument = other_admin.text.split("start=")[1]
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/remove 1693")
    assert "Unused invites they made, now revoked: 1." in admin.text
    newcomer = harness.volunteer(1694, "New")
    await newcomer.send(f"/start {argument}")
    assert newcomer.text.startswith(NOT_VALID)


async def test_unused_invites_are_listed_and_revoked(harness: Harness) -> None:
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/invite lawyer")
    first = admin.text.split("start=inv_")[1]
    await admin.send("/invite psychologist")
    second = admin.text.split("start=inv_")[1]
    await join_as(harness, "coordinator", 1695, "Used")  # a used one is not listed
    await admin.send("/invites")
    listing = admin.screen
    assert listing["text"].splitlines()[0] == "Unused invites (code, role, made by, made on):"
    assert f"<code>{first}</code> lawyer {ADMIN_ID}" in listing["text"]
    assert f"<code>{second}</code> psychologist {ADMIN_ID}" in listing["text"]
    assert len(listing["text"].splitlines()) == 4

    await admin.send(f"/revoke {first}")
    assert admin.text == "Revoked: that link no longer works."
    await admin.press(listing, f"Revoke {second[:6]}…")
    assert admin.text == "Revoked: that link no longer works."
    await admin.send(f"/revoke {first}")
    assert admin.text == "No unused invite with that code. See /invites."
    for n, argument in enumerate((first, second)):
        someone = harness.volunteer(1696 + n, "X")
        await someone.send(f"/start inv_{argument}")
        assert someone.text.startswith(NOT_VALID)
    await admin.send("/invites")
    assert admin.text == "No unused invites."
    assert len(await audit_details(harness, "invite revoke")) == 2

    lawyer = await join_as(harness, "lawyer", 1698, "L")
    await lawyer.send("/invites")
    assert lawyer.text == "Only admins can do this."
    await lawyer.send(f"/revoke {second}")
    assert lawyer.text == "Only admins can do this."
