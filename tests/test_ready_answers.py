"""Ready answers (issue 16): the library coordinators keep in kk, ru and en, its starter set,
and a volunteer sending one under a card, in the person's language, as a helpline answer
(the same path and ownership rules as their own answers, written to the case's history)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.services.errors import InvalidAnswerText
from bot.settings import Settings
from models import AuditEntry, Case
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, DEFAULT_BACKEND, STAFF_CHAT_ID, database_for, make_settings
from tests.flows import cases, report
from tests.harness import Harness, Volunteer
from tests.test_staff import delivered, join_as

STARTER = ["closing", "greeting", "next_steps", "referral_111", "safety_check"]
GREETING_KK = (
    "Сәлеметсіз бе. Бізге жазғаныңызға рахмет. Хабарламаңызды оқыдық. Өзіңізге ыңғайлы "
    "қарқынмен, өз сөзіңізбен жаза беріңіз: біз тыңдауға дайынбыз және қолымыздан келгенше "
    "көмектесеміз."
)


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, migrated from nothing: the starter set is there (the suite's
    shared PostgreSQL database is emptied between tests, the starter set with it)."""
    async for url in database_for(DEFAULT_BACKEND, tmp_path):
        yield url


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


async def command(volunteer: Volunteer, text: str, *, chat: int | None = None) -> str:
    """A command in the staff chat (`chat`) or, without one, in the private chat; the answer."""
    name = text.split()[0]
    entities = [{"type": "bot_command", "offset": 0, "length": len(name)}]
    if chat is None:
        await volunteer.send(text, entities=entities)
        return volunteer.text
    before = len(volunteer.staff_messages(chat))
    await volunteer.write_in_staff_chat(text, chat=chat, entities=entities)
    answers = [m for m in volunteer.staff_messages(chat)[before:] if m["from"]["is_bot"]]
    assert answers, f"no answer to {name}"
    return str(answers[-1]["text"])


def alerts(harness: Harness, after: int) -> list[dict[str, Any]]:
    return [c.params for c in harness.api.calls[after:] if c.method == "answerCallbackQuery"]


async def audit_of(harness: Harness, code: str) -> list[tuple[str, int, str | None]]:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        case_id = await session.scalar(select(Case.id).where(Case.code == code))
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.id)
        )
        return [(e.action, e.staff_id, e.detail) for e in rows]


async def send_ready_answer(harness: Harness, v: Volunteer, code: str, key: str) -> str:
    """Ready answer → the answer → Send; the preview the volunteer saw first."""
    await v.press(v.card(code), "Ready answer")
    labels = [label for label, _ in harness.api.buttons(v.card(code))]
    [label] = [label for label in labels if label.startswith(f"{key} · ")]
    before = len(harness.api.calls)
    await v.press(v.card(code), label)
    [preview] = alerts(harness, before)
    assert preview["show_alert"] is True
    await v.press(v.card(code), "✉️ Send to the person")
    return str(preview["text"])


async def test_the_starter_set_is_there_at_first_start_in_three_languages(
    harness: Harness,
) -> None:
    assert harness.app is not None
    answers = await harness.app.services.ready_answers.all()
    assert [a.key for a in answers] == STARTER
    for answer in answers:
        for locale, text in answer.texts.items():
            assert 40 < len(text) <= 4096, (answer.key, locale)
    by_key = {a.key: a for a in answers}
    assert by_key["greeting"].texts["kk"] == GREETING_KK
    # Who to call is right in every language: 111 sends nobody, 112 and 102 do.
    for locale in ("kk", "ru", "en"):
        assert "112 " in by_key["referral_111"].texts[locale]
        assert "102" in by_key["safety_check"].texts[locale]
    assert "вы в опасности" in by_key["safety_check"].texts["ru"]

    volunteer = await join_as(harness, "lawyer", 1601, "Dana")
    listing = await command(volunteer, "/answers")
    assert listing.startswith("5 ready answers.")
    for key in STARTER:
        assert f"• {key}\nkk: " in listing
    whole = await command(volunteer, "/answers referral_111")
    assert "Единый контакт-центр по вопросам семьи, женщин и защиты прав детей" in whole


async def test_a_ready_answer_reaches_the_person_in_kazakh_and_counts_as_an_answer(
    harness: Harness,
) -> None:
    dana = await join_as(harness, "lawyer", 1611, "Dana")
    person = harness.person(1612, language_code="kk")
    code = await report(person, locale="kk")
    await delivered(harness)
    card = dana.card(code)
    assert [label for label, _ in harness.api.buttons(card)][-2:] == ["Ready answer", "Risk level"]

    await dana.press(card, "Ready answer")
    labels = [label for label, _ in harness.api.buttons(dana.card(code))]
    assert [label.split(" · ")[0] for label in labels[:-1]] == STARTER
    assert labels[-1] == "Back" and all(len(label) <= 32 for label in labels)
    await dana.press(dana.card(code), "Back")
    assert [label for label, _ in harness.api.buttons(dana.card(code))] == [
        "Take",
        "Close",
        "Ready answer",
        "Risk level",
    ]
    preview = await send_ready_answer(harness, dana, code, "greeting")
    assert preview.startswith("greeting · Қазақша: Сәлеметсіз бе. Бізге жазғаныңызға рахмет.")
    await delivered(harness)

    assert person.text == f"Көмек желісі: {GREETING_KK}"
    assert "Dana" not in person.text
    copy = dana.staff_messages()[-1]
    assert copy["text"] == (
        f"📚 <b>{code}</b> · ready answer “greeting”, in Қазақша: {GREETING_KK}"
    )
    assert copy["has_protected_content"] is True
    card = dana.card(code)
    assert 'Taken by <a href="tg://user?id=1611">Dana</a>' in card["text"]  # taken by answering
    assert "Reply" in [label for label, _ in harness.api.buttons(card)]  # the card is back
    history = await audit_of(harness, code)
    assert ("take", 1611, None) in history
    assert ("reply", 1611, "ready answer greeting (kk)") in history
    [case] = await cases(harness)
    assert case.first_answer_at is not None  # an answer like any other

    # A reply to the copy under the card is an answer too (it is linked to the case).
    await dana.write_in_staff_chat("Сізге қалай көмектесе аламыз?", reply_to=copy)
    await delivered(harness)
    assert person.text == "Көмек желісі: Сізге қалай көмектесе аламыз?"


async def test_only_the_owner_or_a_senior_sends_one_and_others_are_told(
    harness: Harness,
) -> None:
    dana = await join_as(harness, "lawyer", 1621, "Dana")
    aidos = await join_as(harness, "psychologist", 1622, "Aidos")
    person = harness.person(1623, language_code="ru")
    code = await report(person, locale="ru")
    await delivered(harness)
    await dana.press(dana.card(code), "Take")

    await aidos.press(aidos.card(code), "Ready answer")
    labels = [label for label, _ in harness.api.buttons(aidos.card(code))]
    before = len(harness.api.calls)
    await aidos.press(aidos.card(code), next(x for x in labels if x.startswith("closing")))
    await aidos.press(aidos.card(code), "✉️ Send to the person")
    refusal = alerts(harness, before)[-1]
    assert refusal["text"].startswith("Another volunteer has this case.")
    assert refusal["show_alert"] is True
    await delivered(harness)
    assert not any(m.get("text", "").startswith("Линия помощи") for m in person.bot_messages())
    assert ("refused", 1622, f"reply {code}") in await audit_of(harness, code)

    # A coordinator (here the admin) may answer someone else's case: in Russian, for this one.
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await send_ready_answer(harness, admin, code, "closing")
    await delivered(harness)
    assert person.text.startswith("Линия помощи: Спасибо, что доверились нам.")
    assert 'Taken by <a href="tg://user?id=1621">Dana</a>' in admin.card(code)["text"]


async def test_in_a_forum_the_answer_and_its_copy_stay_in_the_cases_topic(
    harness: Harness,
) -> None:
    harness.api.forums.add(STAFF_CHAT_ID)
    marat = await join_as(harness, "coordinator", 1631, "Marat")
    person = harness.person(1632, language_code="en")
    code = await report(person)
    await delivered(harness)
    thread = marat.card(code)["message_thread_id"]
    await send_ready_answer(harness, marat, code, "safety_check")
    await delivered(harness)
    assert person.text.startswith("Helpline: Before we go on: are you safe right now?")
    copy = marat.staff_messages()[-1]
    assert copy["message_thread_id"] == thread
    assert copy["text"].startswith(f"📚 <b>{code}</b> · ready answer “safety_check”, in English")


async def test_coordinators_keep_the_library_from_either_chat(harness: Harness) -> None:
    lawyer = await join_as(harness, "lawyer", 1641, "Dana")
    marat = await join_as(harness, "coordinator", 1642, "Marat")
    add = (
        "/answer_add line_150\n"
        "kk: 150 нөміріне қоңырау шалуға болады.\n"
        "Ол тегін.\n"
        "ru: Можно позвонить по номеру 150.\n"
        "en: You can call 150."
    )
    assert await command(lawyer, add) == "Only admins and coordinators can do this."
    assert await command(marat, add) == "Ready answer “line_150” added."
    assert await command(marat, add) == (
        "There is a ready answer “line_150” already: change it with /answer_edit."
    )
    whole = await command(lawyer, "/answers line_150")  # any staff member may read it
    assert "kk: 150 нөміріне қоңырау шалуға болады.\nОл тегін.\nru:" in whole

    edited = "/answer_edit line_150\nru: Можно позвонить на линию 150, это бесплатно."
    assert await command(marat, edited, chat=STAFF_CHAT_ID) == "Ready answer “line_150” changed."
    whole = await command(marat, "/answers line_150", chat=STAFF_CHAT_ID)
    assert "ru: Можно позвонить на линию 150, это бесплатно." in whole
    assert "kk: 150 нөміріне" in whole  # the others are kept

    missing = "/answer_add other\nkk: Мәтін.\nru: Текст."
    assert await command(marat, missing) == "The text in English is missing."
    twice = "/answer_add other\nkk: А.\nkk: Б.\nru: В.\nen: Г."
    assert await command(marat, twice) == "The text in Қазақша is given twice."
    usage = await command(marat, "/answer_add")
    assert usage.startswith("Write it like this, each language on a line of its own")
    assert (await command(marat, "/answer_add Bad-Key\nkk: a\nru: b\nen: c")).startswith(
        "Write it like this"
    )

    person = harness.person(1643)
    code = await report(person)
    await delivered(harness)
    await marat.press(marat.card(code), "Ready answer")
    label = next(x for x, _ in harness.api.buttons(marat.card(code)) if x.startswith("line_150"))
    await marat.press(marat.card(code), label)
    assert await command(marat, "/answer_remove line_150") == "Ready answer “line_150” removed."
    before = len(harness.api.calls)
    await marat.press(marat.card(code), "✉️ Send to the person")  # the answer is gone meanwhile
    [gone] = alerts(harness, before)
    assert gone["text"] == "There is no such ready answer any more. /answers lists them."
    assert (await command(marat, "/answers")).startswith("5 ready answers.")

    assert harness.app is not None
    audit = {(e.action, e.detail) for e in (await audit_entries(harness))}
    assert {("answer add", "line_150"), ("answer remove", "line_150")} <= audit
    assert ("answer edit", "line_150: ru") in audit


async def audit_entries(harness: Harness) -> list[AuditEntry]:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        return list((await session.scalars(select(AuditEntry))).all())


async def test_texts_are_checked_whole_up_to_telegrams_length(harness: Harness) -> None:
    """A text is at most 4,096 characters (a longer one could not come in one message from
    Telegram anyway; the library refuses it from any caller)."""
    assert harness.app is not None
    library = harness.app.services.ready_answers
    with pytest.raises(InvalidAnswerText) as refused:
        await library.edit("greeting", {"ru": "я" * 4097}, ADMIN_ID)
    error = refused.value
    assert (error.reason, error.locale, error.length) == ("long", "ru", 4097)
    await library.edit("greeting", {"ru": "я" * 4096}, ADMIN_ID)
    assert (await library.get("greeting")).texts["ru"] == "я" * 4096
