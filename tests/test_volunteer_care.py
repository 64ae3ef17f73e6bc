"""Care for volunteers (issue 16): a person's photos, videos and GIFs reach the staff chat
behind a spoiler with a short note; cards and relayed messages cannot be forwarded or saved
(protect_content); a lawyer or psychologist holds at most MAX_OPEN_CASES_PER_VOLUNTEER open
cases (coordinators and admins are not limited), and is told so kindly."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings import Settings
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, make_settings
from tests.flows import AFTER_DESCRIPTION, REPORT, cases, code_on_screen, report, tap_all
from tests.harness import Harness
from tests.test_ready_answers import alerts, audit_of
from tests.test_staff import delivered, join_as

PHOTO = [
    {"file_id": "AgAC-small", "file_unique_id": "s1", "width": 90, "height": 90},
    {"file_id": "AgAC-large", "file_unique_id": "s2", "width": 1280, "height": 960},
]
VIDEO = {"file_id": "BAAC-video", "file_unique_id": "v1", "width": 64, "height": 48, "duration": 9}
GIF = {
    "file_id": "CgAC-gif",
    "file_unique_id": "g1",
    "width": 320,
    "height": 240,
    "duration": 2,
    "file_name": "IMG_4411.mp4",
}
NOTE = {
    "photo": "⚠️ Photo from the person: open it with care.",
    "video": "⚠️ Video from the person: open it with care.",
    "animation": "⚠️ GIF from the person: open it with care.",
}


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en", max_open_cases_per_volunteer=2)


def from_bot(harness: Harness, chat: int = STAFF_CHAT_ID) -> list[dict[str, Any]]:
    chat_messages = harness.api.messages[chat].values()
    return sorted((m for m in chat_messages if m["from"]["is_bot"]), key=lambda m: m["message_id"])


def media(harness: Harness, kind: str) -> list[dict[str, Any]]:
    return [m for m in from_bot(harness) if kind in m]


async def test_photos_videos_and_gifs_come_behind_a_spoiler_with_a_note(harness: Harness) -> None:
    person = harness.person(1801)
    await person.send("/start")
    await tap_all(person, REPORT)
    await person.send("", photo=PHOTO, caption="The bruise")  # an attachment of the report
    await tap_all(person, AFTER_DESCRIPTION)
    await person.tap("Send")
    code = code_on_screen(person.text)
    await person.send("", video=VIDEO)  # follow-ups
    await person.send("", animation=GIF, caption="what he sent me")
    await person.send("", photo=PHOTO[:1], caption="and this")
    await delivered(harness)
    head = f"💬 <b>{code}</b> · "

    [photo, later] = media(harness, "photo")
    assert photo["photo"][0]["file_id"] == "AgAC-large"  # the largest size, by its file_id
    assert photo["caption"] == f"{head}{NOTE['photo']}"  # its caption is in the description
    assert later["caption"] == f"{head}{NOTE['photo']}\nand this"
    [video] = media(harness, "video")
    assert video["video"]["file_id"] == "BAAC-video"
    assert video["caption"] == f"{head}{NOTE['video']}"
    [gif] = media(harness, "animation")  # a file with a name: sent under a neutral one
    assert gif["animation"]["file_name"] == "animation.mp4"
    assert gif["caption"] == f"{head}{NOTE['animation']} what he sent me"
    for message in (photo, later, video, gif):
        assert message["has_media_spoiler"] is True
        assert message["has_protected_content"] is True
    sent = [c.method for c in harness.api.calls if c.params.get("chat_id") == STAFF_CHAT_ID]
    assert "copyMessage" not in sent  # copyMessage cannot add a spoiler
    assert {"sendPhoto", "sendVideo", "sendAnimation"} <= set(sent)


async def test_cards_and_relayed_messages_are_protected_in_a_forum(harness: Harness) -> None:
    harness.api.forums.add(STAFF_CHAT_ID)
    person = harness.person(1811)
    code = await report(person)
    await person.send("He is back.")
    await person.send("", photo=PHOTO)
    voice = {"file_id": "AwAC-voice", "file_unique_id": "w1", "duration": 4}
    await person.send("", voice=voice)  # copied as it is (a voice note has no spoiler)
    await delivered(harness)
    messages = from_bot(harness)
    card = next(m for m in messages if m.get("text", "").startswith(f"<b>{code}</b>"))
    thread = card["message_thread_id"]
    relayed = [m for m in messages if m is not card]
    assert len(relayed) == 3
    for message in [card, *relayed]:
        assert message["has_protected_content"] is True
        assert message["message_thread_id"] == thread
    [photo] = media(harness, "photo")
    assert photo["has_media_spoiler"] is True
    [copied] = media(harness, "voice")
    assert "has_media_spoiler" not in copied

    # The person's own chat is not protected: they may keep what the helpline wrote.
    dana = await join_as(harness, "coordinator", 1812, "Dana")
    await dana.write_in_staff_chat("We read you.", reply_to=card, thread=thread)
    await delivered(harness)
    assert person.text == "Helpline: We read you."
    assert "has_protected_content" not in person.screen


async def test_a_photo_from_staff_reaches_the_person_as_it_is(harness: Harness) -> None:
    """The spoiler is for the volunteers: what staff send the person is copied unchanged."""
    dana = await join_as(harness, "lawyer", 1821, "Dana")
    person = harness.person(1822)
    code = await report(person)
    await delivered(harness)
    shelter_map = [{"file_id": "AgAC-map", "file_unique_id": "m1", "width": 10, "height": 10}]
    await dana.write_in_staff_chat(reply_to=dana.card(code), photo=shelter_map, caption="Here")
    await delivered(harness)
    answer = person.screen
    assert answer["caption"] == "Helpline: Here"
    assert "has_media_spoiler" not in answer and "has_protected_content" not in answer


async def test_a_volunteer_over_the_limit_is_refused_kindly(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 1831, "Dana")
    codes = [await report(harness.person(1832 + n)) for n in range(3)]
    await delivered(harness)
    await dana.press(dana.card(codes[0]), "Take")
    await dana.press(dana.card(codes[1]), "Take")

    before = len(harness.api.calls)
    await dana.press(dana.card(codes[2]), "Take")
    [refusal] = alerts(harness, before)
    assert refusal["text"] == (
        "You already have 2 open cases: that is the most one volunteer holds at a time, so "
        "that nobody carries too much. Close or release one, or ask a coordinator to take "
        "this case."
    )
    assert len(refusal["text"]) <= 200 and refusal["show_alert"] is True
    assert "Taken by" not in dana.card(codes[2])["text"]
    assert ("refused", 1831, f"take {codes[2]}: limit 2") in await audit_of(harness, codes[2])

    # Answering would take it too: refused the same way, and nothing reaches the person.
    await dana.write_in_staff_chat("Hello, we are here.", reply_to=dana.card(codes[2]))
    assert dana.staff_messages()[-1]["text"].startswith("You already have 2 open cases")
    await delivered(harness)
    assert not any("we are here" in m.get("text", "") for m in harness.person(1834).bot_messages())

    # A coordinator is not limited; once Dana closes one, she may take the next.
    marat = await join_as(harness, "coordinator", 1840, "Marat")
    await marat.press(marat.card(codes[2]), "Take")
    assert 'Taken by <a href="tg://user?id=1840">Marat</a>' in marat.card(codes[2])["text"]
    await dana.press(dana.card(codes[0]), "Close")
    await dana.press(dana.card(codes[0]), "Advice given")
    fourth = await report(harness.person(1841))
    await delivered(harness)
    await dana.press(dana.card(fourth), "Take")
    assert 'Taken by <a href="tg://user?id=1831">Dana</a>' in dana.card(fourth)["text"]


async def test_admins_are_not_limited_and_zero_means_no_limit(
    botapi: BotApi, database_url: str
) -> None:
    settings = make_settings(
        botapi, database_url, default_locale="en", max_open_cases_per_volunteer=0
    )
    harness = Harness(botapi, settings)
    await harness.start()
    try:
        dana = await join_as(harness, "psychologist", 1851, "Dana")
        admin = harness.volunteer(ADMIN_ID, "Admin")
        codes = [await report(harness.person(1852 + n)) for n in range(4)]
        await delivered(harness)
        for code in codes[:3]:
            await dana.press(dana.card(code), "Take")
        await admin.press(admin.card(codes[3]), "Take")
        owners = [case.taken_by for case in await cases(harness)]
        assert owners == [1851, 1851, 1851, ADMIN_ID]
    finally:
        await harness.stop()
