"""The intake flows end to end, as a person uses them (docs/overview.md, safety rules 3-8, 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select, update

from bot.services.cases import CONSENT_VERSION
from models import Case, CaseMessage, ConversationState, Draft, Person
from tests.flows import AFTER_DESCRIPTION, REPORT, cases, code_on_screen, report, tap_all, tr
from tests.harness import Harness


async def count(harness: Harness, model: type) -> int:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_full_report_in_english_as_the_person_sees_it(harness: Harness) -> None:
    person = harness.person(301, language_code="en", first_name="Aigerim", username="aigerim_k")
    await person.send("/start")
    await person.tap("Report an incident")
    assert person.text.startswith("Before we start: is it safe for you to write now?")
    assert person.buttons[-1] == "Exit and clear chat"
    await person.tap("Yes, it is safe")
    assert person.text == "What happened?"
    assert "Back" in person.buttons and "Cancel" in person.buttons
    await person.tap("Bullying or cyberbullying")
    assert person.text == "Where does it happen?"
    await person.tap("Online")
    assert person.text == "Who is affected?"
    await person.tap("Me")
    assert person.text == "How old are you?"
    await person.tap("18–29")
    assert person.text.startswith("Where are you?")
    assert len(person.buttons) <= 9, "the first region screen must not be a wall of buttons"
    await person.tap("Other regions…")
    assert "Ulytau region" in person.buttons and "Abai region" in person.buttons
    await person.tap("Ulytau region")
    assert person.text.startswith("Tell us what happened")
    await person.send(
        "He posts my photos. Call me on +7 701 123 45 67 or @aigerim_k, IIN 990101400123"
    )
    assert person.text.startswith("Got it.")
    await person.tap("Next")
    assert person.text == "May we answer you here, in this chat?"
    await person.tap("Yes, answer me here")
    assert "lawyers, psychologists and coordinators" in person.text
    assert "90 days" in person.text
    assert "police or to the guardianship bodies" in person.text
    await person.tap("I agree")
    summary = person.text
    assert summary.startswith("Please check your request:")
    assert "Topic: Bullying or cyberbullying" in summary
    assert "Details: Online" in summary
    assert "Region: Ulytau region" in summary
    assert "[phone]" in summary and "701" not in summary and "[username]" in summary
    assert person.buttons[:4] == ["Send", "When answers may come", "Change", "Cancel"]
    await person.tap("Send")
    code = code_on_screen(person.text)
    assert code is not None
    assert person.text.startswith(f"Sent. Your reference code: {code}")
    assert "☎ 112" in person.text  # the numbers again

    [case] = await cases(harness)
    assert case.code == code
    assert (case.kind, case.category, case.subcategory) == ("report", "bullying", "online")
    assert (case.affected, case.age_band, case.region) == ("me", "18_29", "ulytau")
    assert case.locale == "en" and case.may_answer and not case.urgent
    assert case.consent_version == CONSENT_VERSION
    assert datetime.now(UTC) - case.consent_at < timedelta(minutes=1)
    assert case.description == ("He posts my photos. Call me on [phone] or [username], IIN [IIN]")
    assert harness.app is not None
    identity = harness.app.services.identity
    assert case.person == identity.pseudonym(301)
    assert case.reply_to is not None and identity.decrypt(case.reply_to) == 301
    # The draft is gone once the flow ended.
    assert await count(harness, Draft) == 0
    assert await count(harness, ConversationState) == 0


async def test_no_identity_is_stored_anywhere(harness: Harness) -> None:
    person = harness.person(
        777000123, language_code="en", first_name="Zhanar", username="zhanar_secret"
    )
    await report(person, description="Zhanar here, my number is 87011234567")
    assert harness.app is not None
    # The cases table has no column that could hold an identity.
    async with harness.app.services.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("cases")}
        )
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    forbidden = {
        "user_id",
        "telegram_id",
        "chat_id",
        "username",
        "name",
        "phone",
        "address",
        "iin",
        "first_name",
        "location",
    }
    assert columns.isdisjoint(forbidden)
    # No value in any table holds the id, the username or the phone.
    from sqlalchemy import text

    async with harness.app.services.engine.connect() as connection:
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()
            dump = repr(rows)
            for secret in ("777000123", "zhanar_secret", "87011234567"):
                assert secret not in dump, f"{secret} found in {table}"


@pytest.mark.parametrize(
    ("locale", "sent_prefix"),
    [("kk", "Жіберілді. Өтініш коды:"), ("ru", "Отправлено. Код обращения:")],
)
async def test_full_report_in_kazakh_and_russian(
    harness: Harness, locale: str, sent_prefix: str
) -> None:
    person = harness.person(310 if locale == "kk" else 311, language_code=locale)
    code = await report(person, locale=locale, description="Мені мектепте ұрады.")
    assert person.text.startswith(f"{sent_prefix} {code}")
    [case] = await cases(harness)
    assert case.locale == locale and case.region == "karaganda"


async def test_legal_help_flow_has_a_topic_and_no_follow_up(harness: Harness) -> None:
    person = harness.person(312)
    await person.send("/start")
    await tap_all(person, ["Legal help", "Yes, it is safe"])
    assert person.text == "What do you need legal help with?"
    await person.tap("Divorce, alimony or children")
    assert person.text == "Who needs help?"
    await tap_all(person, ["Me", "30–59", "Almaty", "Skip", "No, just record it", "I agree"])
    assert "Description: —" in person.text
    await person.tap("Send")
    assert person.text.startswith("Recorded. Your reference code:")
    [case] = await cases(harness)
    assert (case.kind, case.category, case.may_answer, case.reply_to) == (
        "legal",
        "family",
        False,
        None,
    )


async def test_a_flow_survives_a_restart_at_the_same_step(harness: Harness) -> None:
    person = harness.person(320)
    await person.send("/start")
    await tap_all(person, REPORT[:5])  # up to "Who is affected?" answered
    assert person.text == "How old are you?"
    await harness.restart()
    await person.tap("30–59")  # a button of the screen shown before the restart
    assert person.text.startswith("Where are you?")
    await tap_all(person, ["Other regions…", "Karaganda region"])
    await person.send("It goes on.")
    await harness.restart()
    await tap_all(person, [*AFTER_DESCRIPTION, "Send"])
    assert person.text.startswith("Sent.")
    [case] = await cases(harness)
    assert (case.category, case.subcategory, case.age_band) == ("bullying", "school", "30_59")
    assert case.description == "It goes on."


async def test_cancel_stores_nothing(harness: Harness) -> None:
    person = harness.person(330)
    await person.send("/start")
    await tap_all(person, REPORT[:4])
    await person.tap("Cancel")
    assert person.text.startswith("Cancelled. Nothing was saved.")
    assert "Report an incident" in person.buttons
    assert await count(harness, Case) == 0
    assert await count(harness, Draft) == 0


async def test_back_returns_to_the_previous_question_and_keeps_answers(harness: Harness) -> None:
    person = harness.person(331)
    await person.send("/start")
    await tap_all(person, ["Report an incident", "Yes, it is safe", "Violence at home"])
    assert person.text == "Who is affected?"
    await person.tap("Back")
    assert person.text == "What happened?"
    await person.tap("Discrimination")
    assert person.text == "What was it because of?"
    await person.tap("Back")
    await person.tap("Back")
    assert person.text.startswith("Before we start")
    await person.tap("Back")
    assert "Report an incident" in person.buttons  # back to the main menu


async def test_typing_where_a_button_is_expected_gets_a_hint(harness: Harness) -> None:
    person = harness.person(332)
    await person.send("/start")
    await tap_all(person, ["Report an incident", "Yes, it is safe"])
    await person.send("my husband")
    messages = sorted(person.bot_messages(), key=lambda m: m["message_id"])
    assert messages[-2]["text"] == (
        "We kept what you wrote: it will be part of the description, and you can add to it "
        "there.\n\nPlease choose one of the buttons below."
    )
    assert person.text == "What happened?"  # the question again, with its buttons
    await person.tap("Violence at home")
    assert person.text == "Who is affected?"
    # Not thrown away (issue 13): it waits in the description step.
    await tap_all(person, ["Me", "30–59", "Other regions…", "Karaganda region"])
    assert person.text.startswith("Got it. You can add more, or press Next.")


async def test_not_safe_now_ends_quietly(harness: Harness) -> None:
    person = harness.person(333)
    await person.send("/start")
    await tap_all(person, ["Report an incident", "No, not now"])
    assert person.text.startswith("All right. Come back when it is safe.")
    assert await count(harness, Draft) == 0


async def test_danger_now_shows_numbers_at_once_and_marks_the_case_urgent(
    harness: Harness,
) -> None:
    person = harness.person(334)
    await person.send("/start")
    await tap_all(person, ["Report an incident", "Someone is in danger now"])
    assert person.text.startswith("If you or someone else is in danger now, call:")
    assert "☎ 112" in person.text and "☎ 102" in person.text
    await person.tap("Continue")
    assert person.text == "What happened?"
    await tap_all(person, ["Violence at home", "Another adult", "30–59", "Astana", "Skip"])
    await tap_all(person, AFTER_DESCRIPTION[1:])
    assert "Urgent: someone is in danger" in person.text
    await person.tap("Send")
    [case] = await cases(harness)
    assert case.urgent


async def test_refusing_consent_stores_nothing_and_leaves_the_numbers(harness: Harness) -> None:
    person = harness.person(335)
    await person.send("/start")
    await tap_all(person, REPORT)
    await tap_all(person, ["Skip", "Yes, answer me here", "I do not agree"])
    assert person.text.startswith("Nothing was saved.")
    assert "☎ 112" in person.text
    assert "Emergency numbers" in person.buttons
    assert await count(harness, Case) == 0


async def test_a_child_gets_short_wording_and_childrens_numbers_first(harness: Harness) -> None:
    person = harness.person(336)
    await person.send("/start")
    await tap_all(
        person, ["Report an incident", "Yes, it is safe", "Violence at home", "Me", "Under 14"]
    )
    assert person.text == "Where do you live?"
    await person.tap("Shymkent")
    assert person.text.startswith("Write what happened, in your own words.")
    await person.tap("Skip")
    assert person.text == "Can we write back to you here?"
    await person.tap("Yes, answer me here")
    assert "This is to protect you." in person.text
    await person.tap("I agree")
    await person.tap("Send")
    assert person.text.startswith("Sent! Your code:")
    numbers = [line.split()[1] for line in person.text.splitlines() if line.startswith("☎")]
    assert numbers[0] == "111", numbers


async def test_change_from_the_summary_returns_to_the_summary(harness: Harness) -> None:
    person = harness.person(337)
    await person.send("/start")
    await tap_all(person, [*REPORT, "Skip", "Yes, answer me here", "I agree"])
    await person.tap("Change")
    await person.tap("Region")
    await person.tap("Almaty")
    assert person.text.startswith("Please check your request:")
    assert "Region: Almaty" in person.text
    await person.tap("Send")
    [case] = await cases(harness)
    assert case.region == "almaty"


async def test_timeout_ends_the_flow_with_a_gentle_note(harness: Harness) -> None:
    person = harness.person(338)
    await person.send("/start")
    await tap_all(person, REPORT[:3])
    assert harness.app is not None and harness.app.job_queue is not None
    [job] = [j for j in harness.app.job_queue.jobs() if j.name == "flow-timeout"]
    await job.run(harness.app)  # not idle long enough: nothing happens
    assert await count(harness, ConversationState) == 1
    # Shift time: the flow was last touched 31 minutes ago.
    assert harness.app is not None
    async with harness.app.services.sessions.begin() as session:
        await session.execute(
            update(ConversationState).values(updated_at=datetime.now(UTC) - timedelta(minutes=31))
        )
    await job.run(harness.app)
    note = await harness.api.wait_for(
        lambda c: c.method == "sendMessage" and "no answer for 30 minutes" in c.params["text"]
    )
    assert note.params["chat_id"] == 338
    assert await count(harness, Case) == 0
    assert await count(harness, ConversationState) == 0 and await count(harness, Draft) == 0
    await job.run(harness.app)  # ended once, told once
    notes = [c for c in harness.api.calls if "no answer for 30 minutes" in str(c.params)]
    assert len(notes) == 1
    await person.tap("Online")  # a button from before the timeout
    assert person.text == "This screen has expired. Choose what you need:"
    assert "Report an incident" in person.buttons


async def test_description_limits_and_attachments(harness: Harness) -> None:
    person = harness.person(339)
    await person.send("/start")
    await tap_all(person, REPORT)
    await person.send("x" * 2001)
    assert any("too long by 1 character" in m.get("text", "") for m in person.bot_messages())
    photo = [{"file_id": "AgAC-photo", "file_unique_id": "u1", "width": 10, "height": 10}]
    sent_photo = await person.send("", photo=photo, caption="The bruise")
    assert "1 attachment" in person.text
    await tap_all(person, [*AFTER_DESCRIPTION, "Send"])
    [case] = await cases(harness)
    assert case.description == "The bruise"
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        [attachment] = (await session.scalars(select(CaseMessage))).all()
    assert attachment.media == "photo"
    assert attachment.source_message_id == sent_photo["message_id"]
    assert attachment.text is None  # the file itself is not stored


async def test_too_many_cases_in_an_hour_are_refused(harness: Harness) -> None:
    person = harness.person(340)
    for _ in range(3):
        await report(person, description=None)
    await person.send("/start")
    await person.tap("Report an incident")
    assert person.text.startswith("You have sent several requests in the last hour.")
    assert await count(harness, Case) == 3


async def test_a_flood_of_start_from_new_accounts_creates_nothing(harness: Harness) -> None:
    for user_id in range(5000, 5060):
        await harness.api.send(harness.person(user_id).user, "/start")
        harness.pushed(harness.api._updates[-1]["update_id"])
    await harness.settle(timeout=30)
    assert await count(harness, Case) == 0
    assert await count(harness, Person) == 0
    assert await count(harness, Draft) == 0


async def test_forged_button_values_are_refused_before_they_are_stored(harness: Harness) -> None:
    """Callback data comes from the client: a changed one must not put free text on the card."""
    person = harness.person(331)
    forged = "Aigerim 87011234567"
    await person.send("/start")
    await tap_all(person, REPORT[:2])
    for step, label in (
        ("category", "Bullying or cyberbullying"),
        ("follow", "At school"),
        ("affected", "Me"),
        ("age", "30–59"),
    ):
        question = person.text
        await person.press_data(f"i:{step}:{forged}")
        assert person.text == question, "the same question again"
        await person.tap(label)
    await person.press_data(f"i:region:{forged}")
    assert person.text.startswith("Where are you?")
    await tap_all(person, REPORT[6:])
    await person.send("They hit me.")
    await person.tap("Next")
    await person.press_data(f"i:answer:{forged}")
    assert person.text == "May we answer you here, in this chat?"
    await tap_all(person, AFTER_DESCRIPTION[1:])
    assert forged not in person.text
    await person.tap("Send")
    [case] = await cases(harness)
    stored = (case.category, case.subcategory, case.affected, case.age_band, case.region)
    assert stored == ("bullying", "school", "me", "30_59", "karaganda")
    await harness.until(harness.outbox_empty)
    staff_chat = harness.api.messages[harness.settings.staff_chat_id].values()
    assert staff_chat and not any("87011234567" in m.get("text", "") for m in staff_chat)


async def test_a_name_or_an_address_in_the_description_is_pointed_out(harness: Harness) -> None:
    """Names and addresses are not deleted by guessing: the person is told, and chooses."""
    person = harness.person(332)
    await person.send("/start")
    await tap_all(person, REPORT)
    await person.send("My stepfather Askar Bekov hits me. We live at ул. Абая 15, кв 3.")
    await person.tap("Next")
    assert person.text.startswith("Your text seems to contain a name or an address.")
    assert person.buttons[:2] == ["Change the text", "Keep it"]
    await person.tap("Change the text")
    assert person.text.startswith("Please send your text again, without names or addresses.")
    await person.send("My stepfather hits me.")
    await person.tap("Next")
    assert person.text == "May we answer you here, in this chat?"  # nothing to point out
    await tap_all(person, AFTER_DESCRIPTION[1:])
    assert "Description: My stepfather hits me." in person.text
    await person.tap("Send")
    [case] = await cases(harness)
    assert case.description == "My stepfather hits me."


async def test_the_person_may_keep_a_name_they_wrote(harness: Harness) -> None:
    person = harness.person(333, language_code="ru")
    await person.send("/start")
    await tap_all(person, REPORT, "ru")
    await person.send("Классный руководитель Бекова Айгерим Нурлановна знает")
    await person.tap(tr("ru", "Next"))
    assert person.text.startswith("Похоже, в тексте есть имя или адрес.")
    await person.tap("Оставить как есть")
    assert person.text == tr("ru", "May we answer you here, in this chat?")
    await tap_all(person, AFTER_DESCRIPTION[1:], "ru")
    await person.tap(tr("ru", "Send"))
    [case] = await cases(harness)
    assert case.description == "Классный руководитель Бекова Айгерим Нурлановна знает"
