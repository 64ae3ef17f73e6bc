"""Referrals from the card: the person agrees (choosing what is passed on) or declines; the
owner is reminded and the person asked once, with time shifted; /stats counts them; a rights
page sent from the card; stale directory entries reach the admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.app import QorgauContext
from bot.settings import Settings
from bot.workers.sweeps import flag_stale_directory, follow_up_referrals
from handlers.callbacks import AnswerAction, ReferralAnswer
from models import Case, OutboxMessage, Referral
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import REPORT, report, tap_all, tr
from tests.harness import Harness, Person, Volunteer
from tests.test_staff import audit_actions, delivered, join_as


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    """The staff chat speaks English here, to read the cards in the tests."""
    return make_settings(botapi, database_url, default_locale="en")


async def referrals(harness: Harness) -> list[Referral]:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        return list((await session.scalars(select(Referral).order_by(Referral.id))).all())


async def refer(harness: Harness, volunteer: Volunteer, code: str, service: str) -> None:
    card = volunteer.card(code)
    await volunteer.press(card, "Refer")
    await volunteer.press(volunteer.card(code), service)
    await delivered(harness)


async def press_data(harness: Harness, person: Person, answer: ReferralAnswer) -> None:
    """Press a button with this data on the person's newest screen (an old or forged one)."""
    await harness.api.press(person.user, person.screen, answer.data)
    harness.pushed(harness.api._updates[-1]["update_id"])
    await harness.settle()


async def taken_case(
    harness: Harness, staff_id: int, person_id: int, locale: str = "en"
) -> tuple[Volunteer, Person, str]:
    """A volunteer on duty, a person's report in `locale`, the card taken."""
    dana = await join_as(harness, "lawyer", staff_id, "Dana")
    person = harness.person(person_id, language_code=locale)
    code = await report(person, locale=locale)
    await delivered(harness)
    await dana.press(dana.card(code), "Take")
    return dana, person, code


def context(harness: Harness) -> QorgauContext:
    assert harness.app is not None
    return QorgauContext(harness.app)


async def test_a_referral_agreed_then_followed_up(harness: Harness) -> None:
    dana, person, code = await taken_case(harness, 7201, 7202, "ru")
    assert "Refer" in [label for label, _ in harness.api.buttons(dana.card(code))]

    await refer(harness, dana, code, "111 contact centre: rights of families, women…")
    assert dana.staff_messages()[-1]["text"] == (
        f"{code}: referral to 111 contact centre: rights of families, women and children, "
        "domestic violence and bullying proposed. Waiting for the person's answer."
    )
    ask = person.screen
    assert ask["text"].startswith("Линия помощи: предлагаем службу, которая может вам помочь.")
    assert "Контакт-центр 111" in ask["text"] and "☎ 111" in ask["text"]
    [proposed] = await referrals(harness)
    assert (proposed.status, proposed.shared) == ("proposed", "")

    await person.tap(tr("ru", "Yes, I agree"))
    # Nothing is chosen for them.
    assert all(label.startswith("☐") for label in person.buttons[:4]), person.buttons
    await person.tap(f"☐ {tr('ru', 'What happened (the topic)')}")
    await person.tap(f"☐ {tr('ru', 'My region')}")
    await person.tap(f"☑ {tr('ru', 'My region')}")  # changed their mind
    await person.tap(tr("ru", "Done"))
    await person.tap(tr("ru", "Yes, you may ask"))
    assert person.text.startswith(
        tr("ru", "Thank you. We will pass on only: {shared}. Their contacts:").format(
            shared=tr("ru", "What happened (the topic)")
        )
    )
    await delivered(harness)
    [agreed] = await referrals(harness)
    assert (agreed.status, agreed.shared, agreed.may_ask) == ("agreed", "t", True)
    notice = dana.staff_messages()[-1]
    assert "the person agreed to be referred" in notice["text"]
    assert "May be passed on: What happened (the topic)." in notice["text"]
    # Another volunteer cannot say it was made: the case is Dana's.
    aigul = await join_as(harness, "lawyer", 7203, "Aigul")
    calls = len(harness.api.calls)
    await aigul.press(notice, "Referral made")
    [refused] = [c for c in harness.api.calls[calls:] if c.method == "answerCallbackQuery"]
    assert refused.params["text"].startswith("Another volunteer has this case.")
    [still] = await referrals(harness)
    assert still.status == "agreed"
    await dana.press(notice, "Referral made")
    [made] = await referrals(harness)
    assert made.status == "made"

    # Not yet due: nothing happens.
    await follow_up_referrals(context(harness))
    await delivered(harness)
    assert "Please follow up" not in dana.staff_messages()[-1]["text"]

    # Eight days later: the owner is reminded, the person is asked once.
    later = datetime.now(UTC) + timedelta(days=8)
    await follow_up_referrals(context(harness), now=later)
    await delivered(harness)
    reminder = dana.staff_messages()[-1]["text"]
    assert reminder.startswith(f"⏰ {code}: the person agreed to be referred to 111 contact")
    assert "7 days ago. Please follow up." in reminder
    assert "The person is asked once whether they got help." in reminder
    assert "tg://user?id=7201" in reminder
    assert person.text == tr(
        "ru", "Helpline: some days ago we referred you to {service}. Did you get help?"
    ).format(service="Контакт-центр 111: права семьи, женщин и детей, бытовое насилие и буллинг")
    await follow_up_referrals(context(harness), now=later + timedelta(days=1))  # once only
    await delivered(harness)
    assert sum("Please follow up" in m["text"] for m in dana.staff_messages()) == 1

    await person.tap(tr("ru", "Yes, I got help"))
    assert person.text.startswith("Спасибо, что рассказали.")
    await delivered(harness)
    [done] = await referrals(harness)
    assert done.status == "help_received"
    assert "the person says they got help" in dana.staff_messages()[-1]["text"]

    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/stats")
    stats = admin.text
    assert "Referrals by kind of service:\n• Contact centre 111: 1" in stats
    assert "• got help: 1" in stats
    assert "Got help: 100% of the 1 who answered the follow-up" in stats


async def test_a_referral_declined_passes_nothing_and_is_never_followed_up(
    harness: Harness,
) -> None:
    dana, person, code = await taken_case(harness, 7211, 7212, "kk")
    await refer(harness, dana, code, "State-guaranteed free legal aid")
    assert "Мемлекет кепілдік берген тегін заң көмегі" in person.text
    await person.tap(tr("kk", "No, thank you"))
    assert person.text.startswith(
        tr("kk", "All right, we pass nothing on. If you want, you can contact them yourself:")
    )
    await delivered(harness)
    [declined] = await referrals(harness)
    assert (declined.status, declined.shared, declined.may_ask) == ("declined", "", False)
    assert dana.staff_messages()[-1]["text"] == (
        f"{code}: the person declined the referral to State-guaranteed free legal aid."
    )
    # An old or forged press agreeing after all changes nothing.
    await press_data(harness, person, ReferralAnswer(declined.id, AnswerAction.KEEP, "td", "1"))
    assert person.text == tr("kk", "You have answered this already. Thank you.")
    [still] = await referrals(harness)
    assert still.status == "declined"
    await follow_up_referrals(context(harness), now=datetime.now(UTC) + timedelta(days=30))
    await delivered(harness)
    assert not any("Please follow up" in m["text"] for m in dana.staff_messages())


async def test_someone_else_cannot_answer_a_persons_referral(harness: Harness) -> None:
    dana, person, code = await taken_case(harness, 7221, 7222)
    await refer(harness, dana, code, "Police")
    [referral] = await referrals(harness)
    stranger = harness.person(7223)
    await stranger.send("/start")
    await press_data(harness, stranger, ReferralAnswer(referral.id, AnswerAction.NO))
    assert stranger.text == "You have answered this already. Thank you."
    [referral] = await referrals(harness)
    assert referral.status == "proposed"
    assert "Yes, I agree" in person.buttons  # the person's own question is still open


async def test_a_volunteer_sends_a_rights_page_from_the_card(harness: Harness) -> None:
    dana, person, code = await taken_case(harness, 7231, 7232, "ru")
    await dana.press(dana.card(code), "Rights page")
    await dana.press(dana.card(code), "Children's rights")
    await delivered(harness)
    text = person.text
    assert text.startswith(tr("ru", "Helpline") + ":\n\n" + tr("ru", "Children's rights"))
    assert tr("ru", "Source: {source}").split("{")[0] in text and "345-II" in text
    assert [label for label, _ in harness.api.buttons(dana.card(code))][:3] == [
        "Reply",
        "Release",
        "Close",
    ]


async def test_stale_directory_entries_are_sent_to_admins_once_a_week(harness: Harness) -> None:
    far = datetime.now(UTC) + timedelta(days=400)  # every shipped entry is past 365 days
    await flag_stale_directory(context(harness), now=far)
    await delivered(harness)
    notes = [m for m in harness.api.messages[ADMIN_ID].values() if m["from"]["is_bot"]]
    assert len(notes) == 1
    assert notes[0]["text"].startswith("Directory entries not checked for over 365 days.")
    assert "• contact_111:" in notes[0]["text"]
    await flag_stale_directory(context(harness), now=far + timedelta(days=1))
    await delivered(harness)
    assert len([m for m in harness.api.messages[ADMIN_ID].values() if m["from"]["is_bot"]]) == 1
    await flag_stale_directory(context(harness), now=far + timedelta(days=8))
    await delivered(harness)
    assert len([m for m in harness.api.messages[ADMIN_ID].values() if m["from"]["is_bot"]]) == 2


async def test_a_child_is_asked_as_a_child(harness: Harness) -> None:
    dana = await join_as(harness, "psychologist", 7241, "Dana")
    child = harness.person(7242, language_code="ru")
    steps = [*REPORT[:5], "14–17", *REPORT[6:]]
    code = await report(child, locale="ru", steps=steps)
    await delivered(harness)
    await dana.press(dana.card(code), "Take")
    await refer(harness, dana, code, "111 contact centre: rights of families, women…")
    assert child.text.startswith("Линия помощи: мы знаем службу, которая может тебе помочь.")
    await child.tap("Да, согласен(на)")
    assert child.text == "Что можно им рассказать? Выбери. Мы расскажем только то, что ты выберешь."
    await child.tap("Готово")
    assert child.text.startswith("Можно через 7 дней спросить тебя здесь")
    await child.tap("Нет, не спрашивайте")
    assert child.text.startswith("Спасибо. Мы ничего не расскажем им об обращении. Их контакты:")
    [referral] = await referrals(harness)
    assert (referral.status, referral.shared, referral.may_ask) == ("agreed", "", False)


async def test_only_the_owner_or_a_coordinator_may_refer(harness: Harness) -> None:
    _, _, code = await taken_case(harness, 7251, 7252)  # Dana has it
    aigul = await join_as(harness, "lawyer", 7253, "Aigul")
    await aigul.press(aigul.card(code), "Refer")
    calls = len(harness.api.calls)
    await aigul.press(aigul.card(code), "Police")
    [answer] = [c for c in harness.api.calls[calls:] if c.method == "answerCallbackQuery"]
    assert answer.params["text"].startswith("Another volunteer has this case.")
    assert await referrals(harness) == []
    assert "refused" in await audit_actions(harness)
    marat = await join_as(harness, "coordinator", 7254, "Marat")
    await refer(harness, marat, code, "Police")
    [referral] = await referrals(harness)
    assert (referral.service, referral.proposed_by) == ("police_102", 7254)


async def referral_made(harness: Harness, staff_id: int, person_id: int) -> Person:
    """A case taken, a referral to 111 agreed (the person may be asked later) and made."""
    dana, person, code = await taken_case(harness, staff_id, person_id)
    await refer(harness, dana, code, "111 contact centre: rights of families, women…")
    await tap_all(person, ["Yes, I agree", "Done", "Yes, you may ask"])
    await delivered(harness)
    await dana.press(dana.staff_messages()[-1], "Referral made")
    return person


async def test_the_follow_up_question_waits_while_the_person_is_away(harness: Harness) -> None:
    """A person who left with "Exit and clear chat" is not asked whether they got help until
    they write again; the question then comes without a sound. The owner is reminded as usual."""
    person = await referral_made(harness, 7251, 7252)
    await person.send("/start")
    await person.tap("Exit and clear chat")
    await delivered(harness)  # the staff notice that the person left in a hurry
    assert harness.api.messages[person.user.id] == {}

    before = len(harness.api.calls)
    await follow_up_referrals(context(harness), now=datetime.now(UTC) + timedelta(days=8))
    assert harness.app is not None
    outbox = harness.app.services.outbox

    async def nothing_left_to_send() -> bool:
        return await outbox.next_due() is None

    # The sender has sent all it may (the owner's reminder): the question still waits.
    await harness.until(nothing_left_to_send)
    assert any("Please follow up" in str(c.params.get("text")) for c in harness.api.calls[before:])
    async with harness.app.services.sessions() as session:
        question_row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "referral_follow_up")
        )
    assert question_row is not None and question_row.status == "pending"
    assert harness.api.messages[person.user.id] == {}, "the question reached a cleared chat"

    await person.send("/start")
    question = await harness.api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.params.get("chat_id") == person.user.id
            and str(c.params.get("text")).startswith("Helpline: some days ago we referred you")
        ),
        after=before,
    )
    assert question.params.get("disable_notification") is True
    await delivered(harness)


async def test_the_follow_up_question_keeps_to_the_persons_safe_times(harness: Harness) -> None:
    """A person who chose hours for answers is asked whether they got help within them."""
    person = await referral_made(harness, 7261, 7262)
    assert harness.app is not None
    services, outbox = harness.app.services, harness.app.services.outbox
    hour = outbox.clock().astimezone(outbox.zone).hour
    async with services.sessions.begin() as session:  # hours from 2 to 3 hours from now
        await session.execute(
            update(Case)
            .where(Case.person.isnot(None))
            .values(answer_from=(hour + 2) % 24, answer_until=(hour + 3) % 24)
        )
    before = len(harness.api.calls)
    await follow_up_referrals(context(harness), now=datetime.now(UTC) + timedelta(days=8))

    async def nothing_left_to_send() -> bool:
        return await outbox.next_due() is None

    await harness.until(nothing_left_to_send)  # the owner's reminder went; the question waits
    assert any("Please follow up" in str(c.params.get("text")) for c in harness.api.calls[before:])
    assert not any(c.params.get("chat_id") == person.user.id for c in harness.api.calls[before:])
    now = outbox.clock()
    outbox.clock = lambda: now + timedelta(hours=2)  # the person's hours begin
    await harness.api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.params.get("chat_id") == person.user.id
            and str(c.params.get("text")).startswith("Helpline: some days ago we referred you")
        ),
        after=before,
    )
