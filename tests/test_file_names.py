"""File names are identities too: a document's name never crosses between the person and the
staff (docs/safety.md, rules 6 and 7). Telegram keeps a file's name when it is copied or sent again
by its file_id, so the bot passes documents on under a neutral name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.settings import Settings
from tests.botapi import BotApi
from tests.conftest import make_settings
from tests.flows import AFTER_DESCRIPTION, REPORT, code_on_screen, report, tap_all
from tests.harness import Harness
from tests.test_staff import delivered, join_as


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


def document(file_id: str, name: str, size: int = 2048) -> dict[str, Any]:
    return {
        "document": {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": name,
            "file_size": size,
        }
    }


def documents(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["document"] for m in messages if m["from"]["is_bot"] and "document" in m]


async def test_the_persons_file_names_do_not_reach_staff(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 611, "Dana")
    person = harness.person(612)
    await person.send("/start")
    await tap_all(person, REPORT)
    await person.send(
        "", caption="Справка", **document("BQ-1", "Aigerim_Nurlanovna_IIN990101300123.pdf")
    )
    await tap_all(person, AFTER_DESCRIPTION)
    await person.tap("Send")
    code = code_on_screen(person.text)
    await person.send("", **document("BQ-2", "Заявление Бекова А.Н. 87011234567.docx"))
    assert person.text == f"Added to your request {code}. The helpline will see it."
    await delivered(harness)

    staff_chat = dana.staff_messages()
    seen = json.dumps(staff_chat, ensure_ascii=False)
    for secret in ("Aigerim", "Nurlanovna", "990101300123", "Бекова", "87011234567"):
        assert secret not in seen
    names = [d["file_name"] for d in documents(staff_chat)]
    assert names == ["document.pdf", "document.docx"]
    contents = [harness.api.file_content(d["file_id"]) for d in documents(staff_chat)]
    assert contents == [harness.api.file_content("BQ-1"), harness.api.file_content("BQ-2")]
    assert "Справка" in dana.card(code or "")["text"]  # a caption joins the description


async def test_the_volunteers_file_names_do_not_reach_the_person(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 621, "Dana")
    person = harness.person(622)
    code = await report(person, description="They do not pay me.")
    await delivered(harness)
    card = dana.card(code)
    await dana.write_in_staff_chat(
        reply_to=card, caption="A sample claim", **document("BQ-3", "Askar_Bekov_consultation.pdf")
    )
    await delivered(harness)

    seen = json.dumps(list(harness.api.messages[person.user.id].values()), ensure_ascii=False)
    assert "Askar" not in seen and "Bekov" not in seen
    [sent] = documents(person.bot_messages())
    assert sent["file_name"] == "document.pdf"
    assert harness.api.file_content(sent["file_id"]) == harness.api.file_content("BQ-3")
    assert person.screen["caption"] == "Helpline: A sample claim"


async def test_a_file_too_big_to_rename_is_not_passed_on_and_the_staff_are_told(
    harness: Harness,
) -> None:
    """Bots may download files up to 20 MB only: a bigger one cannot be renamed."""
    dana = await join_as(harness, "lawyer", 631, "Dana")
    person = harness.person(632)
    await person.send("/start")
    await tap_all(person, REPORT)
    await person.send("", **document("BQ-4", "Aigerim_big_scan.pdf", size=30 * 1024 * 1024))
    await tap_all(person, AFTER_DESCRIPTION)
    await person.tap("Send")
    await delivered(harness)
    staff_chat = dana.staff_messages()
    assert "Aigerim" not in json.dumps(staff_chat, ensure_ascii=False)
    assert not documents(staff_chat)
    assert any("over 20 MB" in (m.get("text") or "") for m in staff_chat)


async def test_a_volunteers_file_too_big_to_rename_is_reported_back(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 641, "Dana")
    person = harness.person(642)
    code = await report(person, description="They do not pay me.")
    await delivered(harness)
    big = document("BQ-5", "Askar_Bekov_scan.pdf", size=25 * 1024 * 1024)
    await dana.write_in_staff_chat(reply_to=dana.card(code), **big)
    await delivered(harness)
    assert not documents(person.bot_messages())
    notice = dana.staff_messages()[-1]["text"]
    assert notice.startswith(f"{code}: The document was not sent to the person: it is over 20 MB")


async def test_videos_and_audio_files_lose_their_names_too(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 651, "Dana")
    person = harness.person(652)
    code = await report(person, description="They do not pay me.")
    audio = {
        "file_id": "AU-1",
        "file_unique_id": "u-AU-1",
        "duration": 30,
        "performer": "Aigerim Nurlanovna",
        "title": "voice 87011234567",
        "file_name": "Aigerim_Nurlanovna.mp3",
    }
    await person.send("", audio=audio)
    await delivered(harness)
    staff_chat = dana.staff_messages()
    assert "Aigerim" not in json.dumps(staff_chat, ensure_ascii=False)
    assert [d["file_name"] for d in documents(staff_chat)] == ["document.mp3"]

    video = {
        "file_id": "VI-1",
        "file_unique_id": "u-VI-1",
        "width": 640,
        "height": 480,
        "duration": 5,
        "file_name": "Askar_Bekov_explains.mp4",
    }
    await dana.write_in_staff_chat(reply_to=dana.card(code), video=video)
    await delivered(harness)
    person_chat = list(harness.api.messages[person.user.id].values())
    assert "Askar" not in json.dumps(person_chat, ensure_ascii=False)
    [sent] = [m["video"] for m in person_chat if m["from"]["is_bot"] and "video" in m]
    assert sent["file_name"] == "video.mp4"
    assert harness.api.file_content(sent["file_id"]) == harness.api.file_content("VI-1")
