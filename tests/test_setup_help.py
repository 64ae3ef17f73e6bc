"""Set-up help (/setup, the bot added to a group), /help by role, the command menus and the
answer to an unknown command: what an admin, a volunteer and a person see."""

from __future__ import annotations

from typing import Any

from tests.botapi import BOT_ID, BOT_USER, User, admin_member
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID
from tests.flows import tr
from tests.harness import Harness

OTHER_GROUP = -1009876543210


async def group_command(harness: Harness, user: User, chat: int, text: str) -> str:
    """`user` sends a command in a group; the bot's answer there."""
    before = len(harness.api.messages[chat])
    await harness.api.send_in_group(
        user, chat, text, entities=[{"type": "bot_command", "offset": 0, "length": len(text)}]
    )
    harness.pushed(harness.api._updates[-1]["update_id"])
    await harness.settle()
    answers = [m for m in list(harness.api.messages[chat].values())[before:] if m["from"]["is_bot"]]
    assert answers, f"the bot did not answer {text} in {chat}"
    return str(answers[-1]["text"])


async def test_setup_in_a_good_staff_chat_gives_its_id_and_says_all_is_in_place(
    harness: Harness,
) -> None:
    admin = User(ADMIN_ID, language_code="en")
    text = await group_command(harness, admin, STAFF_CHAT_ID, "/setup")
    assert f"This chat's id: {STAFF_CHAT_ID}" in text
    assert "Topics are off" in text
    assert "The bot has every right it needs here." in text
    assert "not a staff chat" not in text
    assert "ADMIN_IDS is empty" not in text


async def test_added_to_a_group_without_rights_the_bot_says_exactly_what_is_missing(
    harness: Harness,
) -> None:
    harness.api.forums.add(OTHER_GROUP)
    owner = User(555, language_code="ru")
    member = admin_member(
        BOT_USER, can_pin_messages=False, can_manage_topics=False, can_restrict_members=False
    )
    harness.pushed(await harness.api.bot_added(owner, OTHER_GROUP, member))
    await harness.settle()
    text = harness.api.screen(OTHER_GROUP)["text"]
    assert f"Id этого чата: {OTHER_GROUP}" in text
    assert f"STAFF_CHAT_ID={OTHER_GROUP}" in text  # not a staff chat yet
    missing = [line.removeprefix("⚠ ") for line in text.splitlines() if line.startswith("⚠")]
    assert missing == [
        tr("ru", "Pin messages"),
        tr("ru", "Ban users"),
        tr("ru", "Manage topics"),
    ]


async def test_added_as_a_plain_member_the_bot_asks_to_be_made_admin(harness: Harness) -> None:
    owner = User(556, language_code="en")
    member = {"status": "member", "user": BOT_USER}
    harness.pushed(await harness.api.bot_added(owner, OTHER_GROUP, member))
    await harness.settle()
    text = harness.api.screen(OTHER_GROUP)["text"]
    assert "⚠ The bot is not an administrator." in text


async def test_setup_is_only_for_the_groups_administrators(harness: Harness) -> None:
    stranger = User(557, language_code="en")
    text = await group_command(harness, stranger, STAFF_CHAT_ID, "/setup")
    assert text == "Only the group's administrators can do this."
    owner = User(558, language_code="en")
    harness.api.chat_members[(STAFF_CHAT_ID, owner.id)] = {
        "status": "creator",
        "user": owner.as_dict(),
        "is_anonymous": False,
    }
    text = await group_command(harness, owner, STAFF_CHAT_ID, "/setup")
    assert f"This chat's id: {STAFF_CHAT_ID}" in text


async def test_setup_in_private_gives_the_persons_id_and_warns_without_admins(
    harness: Harness,
) -> None:
    harness.settings.admin_ids.clear()  # as if ADMIN_IDS were empty
    person = harness.person(4321, language_code="kk")
    await person.send("/setup")
    assert "4321" in person.text
    assert "ADMIN_IDS" in person.text and "⚠" in person.text


async def test_help_for_a_person_has_the_numbers_and_the_way_out(harness: Harness) -> None:
    person = harness.person(4001, language_code="kk")
    await person.send("/help")
    assert person.text.startswith(tr("kk", "If you or someone else is in danger now, call:"))
    assert "☎ 112" in person.text
    assert tr("kk", "Exit and clear chat") in person.text  # said in words…
    assert tr("kk", "Exit and clear chat") in person.buttons  # …and there to press
    assert "/duty" not in person.text


async def test_help_for_staff_and_admins_by_role(harness: Harness) -> None:
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/help")
    assert "/duty on" in admin.text and "/invite ROLE" in admin.text and "/stats" in admin.text
    text = await group_command(harness, admin.user, STAFF_CHAT_ID, "/help")
    assert "reply to the card" in text and "/invite ROLE" in text
    assert "☎" not in text  # the numbers are for people, not the staff chat
    stranger = User(4002, language_code="en")
    text = await group_command(harness, stranger, STAFF_CHAT_ID, "/help")
    assert text == "Only helpline staff can do this."


async def test_an_unknown_command_points_to_help_in_the_persons_language(
    harness: Harness,
) -> None:
    person = harness.person(4003, language_code="ru")
    await person.send("/frobnicate")
    assert person.text == tr(
        "ru", "I do not know this command. /help says what I can do; /start opens the menu."
    )


def menu(call_params: dict[str, Any]) -> list[str]:
    return [command["command"] for command in call_params["commands"]]


async def test_menus_are_set_per_language_and_scope_at_start(harness: Harness) -> None:
    api = harness.api

    def set_for(scope: dict[str, Any], language: str | None) -> dict[str, Any]:
        for call in api.calls:
            if (
                call.method == "setMyCommands"
                and call.params.get("scope") == scope
                and call.params.get("language_code") == language
            ):
                return call.params
        raise AssertionError(f"no menu for {scope} in {language}")

    await api.wait_for(
        lambda c: (
            c.method == "setMyCommands"
            and c.params.get("language_code") is None
            and c.params.get("scope", {}).get("chat_id") == ADMIN_ID
        )
    )
    private_kk = set_for({"type": "all_private_chats"}, "kk")
    assert menu(private_kk)[:2] == ["start", "help"]
    assert private_kk["commands"][0]["description"] == tr("kk", "Menu and emergency numbers")
    assert "invite" not in menu(private_kk)
    staff_ru = set_for({"type": "chat", "chat_id": STAFF_CHAT_ID}, "ru")
    assert menu(staff_ru) == ["help", "note", "case", "mine", "queue", "answers", "setup"]
    admin_en = set_for({"type": "chat", "chat_id": ADMIN_ID}, "en")
    assert {"duty", "stats", "invite", "broadcast", "start"} <= set(menu(admin_en))
    assert set_for({"type": "all_private_chats"}, None)  # Telegram's fallback language
    assert BOT_ID  # the stand-in's bot is the one whose menus these are
