"""Casework for volunteers (issue 16), in a forum staff group and in a plain one: explicit
answers and safe notes, a case's history (/case), reopening, ownership, handover, /mine and
/duty off (docs/staff-guide.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.services.retention import erase_expired
from bot.settings import Settings
from models import AuditEntry, Case, CaseMessage, CaseNote, OutboxMessage
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, make_settings
from tests.flows import report
from tests.harness import Harness, Person, Volunteer
from tests.test_staff import delivered, join_as

TIME = r"\d\d\.\d\d \d\d:\d\d"  # as /case and /mine show a moment
NOTE = "✍"
DELIVERED = "👍"


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    """The staff chat speaks English here, to read the cards in the tests."""
    return make_settings(botapi, database_url, default_locale="en")


@pytest.fixture(params=["forum", "plain"])
def forum(request: pytest.FixtureRequest, botapi: BotApi) -> bool:
    """The staff group with topics (one per case) or without."""
    if request.param == "forum":
        botapi.forums.add(STAFF_CHAT_ID)
    return bool(request.param == "forum")


@dataclass
class Desk:
    """One case in the staff chat, as a volunteer works it."""

    h: Harness
    person: Person
    code: str
    thread: int | None

    def card(self, volunteer: Volunteer) -> dict[str, Any]:
        return volunteer.card(self.code)

    async def write(
        self,
        volunteer: Volunteer,
        text: str = "",
        reply_to: dict[str, Any] | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """A message in the case's place: its topic (forum), or the chat (plain group)."""
        return await volunteer.write_in_staff_chat(
            text, reply_to=reply_to, thread=self.thread, **kw
        )

    def answers(self) -> list[str]:
        """What the person got from the helpline."""
        return [
            m["text"]
            for m in sorted(self.person.bot_messages(), key=lambda m: m["message_id"])
            if m.get("text", "").startswith("Helpline")
        ]

    def reaction(self, message: dict[str, Any]) -> list[str] | None:
        return self.h.api.reactions.get((STAFF_CHAT_ID, message["message_id"]))

    async def marked(self, message: dict[str, Any], emoji: str) -> None:
        async def done() -> bool:
            return self.reaction(message) == [emoji]

        await self.h.until(done)


async def open_case(h: Harness, forum: bool, person_id: int, **kw: Any) -> Desk:
    person = h.person(person_id)
    code = await report(person, **kw)
    await delivered(h)
    card = next(
        m
        for m in h.api.messages[STAFF_CHAT_ID].values()
        if m["from"]["is_bot"] and m.get("text", "").startswith(f"<b>{code}</b>")
    )
    thread = card.get("message_thread_id")
    assert (thread is not None) == forum
    return Desk(h, person, code, thread)


async def case_row(h: Harness, code: str) -> Case:
    assert h.app is not None
    async with h.app.services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.code == code))
        assert case is not None
        return case


async def notes_of(h: Harness, code: str) -> list[CaseNote]:
    case = await case_row(h, code)
    assert h.app is not None
    async with h.app.services.sessions() as session:
        rows = await session.scalars(
            select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
        )
        return list(rows.all())


async def outbox_text(h: Harness) -> str:
    """Every outbox row addressed to a person, as stored (payloads)."""
    assert h.app is not None
    async with h.app.services.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.kind.in_(("to_person", "closed_notice", "confirmation"))
            )
        )
        return "\n".join(rows.all())


async def test_answers_reach_the_person_and_notes_do_not(harness: Harness, forum: bool) -> None:
    dana = await join_as(harness, "lawyer", 1601, "Dana")
    desk = await open_case(harness, forum, 1602)
    await dana.press(desk.card(dana), "Take")

    # A reply to the card: an answer, marked 👍 once the person has it.
    answer = await desk.write(dana, "We read you. Are you safe now?", reply_to=desk.card(dana))
    await delivered(harness)
    assert desk.answers() == ["Helpline: We read you. Are you safe now?"]
    await desk.marked(answer, DELIVERED)

    # A note: in a topic, a plain message; anywhere, a reply that starts with /note.
    if forum:
        side_talk = await desk.write(dana, "Sounds like her husband reads her phone")
        # As Telegram sends it: a reply to the message that opened the topic.
        assert side_talk["reply_to_message"].get("forum_topic_created") is not None
    else:
        side_talk = await desk.write(
            dana, "/note Sounds like her husband reads her phone", reply_to=desk.card(dana)
        )
    await desk.marked(side_talk, NOTE)
    await delivered(harness)
    assert desk.answers() == ["Helpline: We read you. Are you safe now?"]
    assert "husband" not in await outbox_text(harness)
    [note] = await notes_of(harness, desk.code)
    assert (note.kind, note.staff_id, note.text) == (
        "note",
        1601,
        "Sounds like her husband reads her phone",
    )

    # The person writes again: a reply to their relayed message is an answer, and so is a
    # reply to an earlier answer; a reply to a note is a note.
    await desk.person.send("Yes. He is at work now.")
    await delivered(harness)
    relayed = dana.staff_messages()[-1]
    assert relayed["text"].startswith(f"💬 <b>{desk.code}</b>: Yes. He is at work now.")
    second = await desk.write(dana, "Good. Write when you can.", reply_to=relayed)
    third = await desk.write(dana, "We are here until 22:00.", reply_to=answer)
    about_note = await desk.write(dana, "Agreed, keep it short", reply_to=side_talk)
    noted_caption = await desk.write(
        dana,
        reply_to=relayed,
        caption="/note photo of the bruise, do not forward",
        photo=[{"file_id": "p1", "file_unique_id": "p1", "width": 1, "height": 1}],
    )
    await delivered(harness)
    for message, emoji in ((second, DELIVERED), (third, DELIVERED)):
        await desk.marked(message, emoji)
    for message in (about_note, noted_caption):
        await desk.marked(message, NOTE)
    assert desk.answers() == [
        "Helpline: We read you. Are you safe now?",
        "Helpline: Good. Write when you can.",
        "Helpline: We are here until 22:00.",
    ]
    texts = [(n.media, n.text) for n in await notes_of(harness, desk.code)]
    assert texts[1:] == [
        ("text", "Agreed, keep it short"),
        ("photo", "photo of the bruise, do not forward"),
    ]
    assert "bruise" not in await outbox_text(harness)
    assert not any(
        c.method == "copyMessage" and c.params.get("chat_id") == 1602 for c in harness.api.calls
    )


async def test_what_is_about_no_case_is_neither_sent_nor_kept(
    harness: Harness, forum: bool
) -> None:
    dana = await join_as(harness, "coordinator", 1611, "Dana")
    desk = await open_case(harness, forum, 1612)
    # Talk in the chat's main part (no topic, no reply): nobody's case.
    chatter = await dana.write_in_staff_chat("Who is on tonight?")
    # A reply to a bot message that is neither a card nor the person's: no answer.
    await dana.send("/duty on")
    await dana.write_in_staff_chat(f"/case {desk.code}", thread=desk.thread)
    shown = dana.staff_messages()[-1]
    assert shown["text"].startswith(f"📁 <b>{desk.code}</b>")
    reply_to_history = await desk.write(dana, "Thanks", reply_to=shown)
    # A reply to a notice of the bot's that names the case (not a card, not the person's):
    # no answer either.
    harness.api.blocked.add(desk.person.user.id)
    await desk.write(dana, "Hello?", reply_to=dana.card(desk.code))
    await delivered(harness)
    notice = dana.staff_messages()[-1]
    assert notice["text"].startswith(f"{desk.code}: The person has blocked the bot")
    harness.api.blocked.discard(desk.person.user.id)
    about_notice = await desk.write(dana, "ok, try again tomorrow", reply_to=notice)
    await delivered(harness)
    assert desk.answers() == []
    assert desk.reaction(chatter) is None
    if forum:  # in the case's topic they are notes
        await desk.marked(reply_to_history, NOTE)
        await desk.marked(about_notice, NOTE)
        notes = [n.text for n in await notes_of(harness, desk.code)]
        assert notes == ["Thanks", "ok, try again tomorrow"]
    else:
        assert desk.reaction(reply_to_history) is None
        assert desk.reaction(about_notice) is None
        assert await notes_of(harness, desk.code) == []
    # /note about no case says how it works.
    await dana.write_in_staff_chat("/note remember to call back")
    assert dana.staff_messages()[-1]["text"].startswith("/note works as a reply to a case's card")


async def test_a_chat_without_that_reaction_gets_a_short_reply(
    harness: Harness, forum: bool
) -> None:
    harness.api.allowed_reactions[STAFF_CHAT_ID] = {"❤"}
    dana = await join_as(harness, "lawyer", 1621, "Dana")
    desk = await open_case(harness, forum, 1622)
    await dana.press(desk.card(dana), "Take")
    note = await desk.write(dana, "/note she may not be alone", reply_to=desk.card(dana))
    answer = await desk.write(dana, "Thank you for writing.", reply_to=desk.card(dana))
    await delivered(harness)

    def replies_to(message: dict[str, Any]) -> list[str]:
        return [
            m["text"]
            for m in dana.staff_messages()
            if m["from"]["is_bot"] and m.get("reply_to") == message["message_id"]
        ]

    assert replies_to(note) == ["✍ Kept as a note: not sent to the person."]
    assert replies_to(answer) == ["👍 Delivered to the person."]
    assert desk.answers() == ["Helpline: Thank you for writing."]


async def test_only_the_owner_answers_others_are_told_who_has_it(
    harness: Harness, forum: bool
) -> None:
    dana = await join_as(harness, "lawyer", 1631, "Dana")
    aidos = await join_as(harness, "psychologist", 1632, "Aidos")
    marat = await join_as(harness, "coordinator", 1633, "Marat")
    desk = await open_case(harness, forum, 1634)
    await dana.press(desk.card(dana), "Take")

    await desk.write(aidos, "I can help with this", reply_to=desk.card(aidos))
    refusal = aidos.staff_messages()[-1]["text"]
    assert refusal == (
        "Dana has this case. Only they, a coordinator or an admin can answer, release, close "
        "or reopen it. To leave them a note, start your reply with /note."
    )
    calls = len(harness.api.calls)
    for label in ("Reply", "Release", "Close"):
        await aidos.press(desk.card(aidos), label)
    alerts = [c.params for c in harness.api.calls[calls:] if c.method == "answerCallbackQuery"]
    assert [a.get("text", "").split(".")[0] for a in alerts] == ["Dana has this case"] * 2 + [""]
    # Close shows the outcomes to anyone; choosing one is refused.
    await aidos.press(desk.card(aidos), "Advice given")
    assert (await case_row(harness, desk.code)).status == "open"
    # A note is anyone's to leave.
    note = await desk.write(aidos, "/note I speak Kazakh if needed", reply_to=desk.card(aidos))
    await desk.marked(note, NOTE)
    # A coordinator may answer.
    await desk.write(marat, "A coordinator here: we are with you.", reply_to=desk.card(marat))
    # Someone who is not staff writes in the case's place: refused, nothing kept or sent.
    stranger = harness.volunteer(1635, "Stranger")
    await desk.write(stranger, "/note hi" if not forum else "hi", reply_to=desk.card(stranger))
    assert stranger.staff_messages()[-1]["text"] == "Only helpline staff can do this."
    await delivered(harness)
    assert desk.answers() == ["Helpline: A coordinator here: we are with you."]
    assert [n.staff_id for n in await notes_of(harness, desk.code)] == [1632]
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        refused = (
            await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "refused"))
        ).all()
    assert f"reply {desk.code}" in refused and f"release {desk.code}" in refused


async def test_handover_history_and_reopen(harness: Harness, forum: bool) -> None:
    """The closing transcript of issue 16: one case with two notes, two answers, a handover
    and a reopen, and /case for it."""
    dana = await join_as(harness, "lawyer", 1641, "Dana")
    marat = await join_as(harness, "coordinator", 1642, "Marat")
    desk = await open_case(
        harness, forum, 1643, description="My husband took my passport, call me 87011234567"
    )
    await dana.press(desk.card(dana), "Take")
    await desk.write(
        dana, "/note Sounds like her husband reads her phone", reply_to=desk.card(dana)
    )
    await desk.write(dana, "We read you. Is it safe to write now?", reply_to=desk.card(dana))
    await desk.person.send("Yes, he is at work")
    await delivered(harness)
    relayed = dana.staff_messages()[-1]
    await desk.write(dana, "/note Passport: legal aid, not the police first", reply_to=relayed)
    await desk.write(
        dana, "Keeping your documents from you is against the law. We can help.", reply_to=relayed
    )

    # Release: the bot asks for a handover note; a reply to that request is it.
    await dana.press(desk.card(dana), "Release")
    prompt = dana.staff_messages()[-1]
    assert prompt["text"].startswith(f"{desk.code} is released. Reply to this message")
    assert [label for label, _ in harness.api.buttons(prompt)] == ["No note"]
    await desk.write(
        dana, "Answers in the evening only. Next: legal aid, passport.", reply_to=prompt
    )
    await desk.marked(dana.staff_messages()[-1], NOTE)

    # The next owner is shown it when they take the case.
    await marat.press(desk.card(marat), "Take")
    shown = marat.staff_messages()[-1]
    assert shown["text"].startswith(f"📝 Handover note for {desk.code} from Dana (")
    assert "Answers in the evening only. Next: legal aid, passport." in shown["text"]
    assert "tg://user?id=1642" in shown["text"]
    await marat.press(desk.card(marat), "Close")
    await marat.press(desk.card(marat), "Legal aid")
    await delivered(harness)
    assert "Reopen" in [label for label, _ in harness.api.buttons(desk.card(marat))]

    await marat.press(desk.card(marat), "Reopen")
    card = desk.card(marat)
    assert 'Taken by <a href="tg://user?id=1642">Marat</a>' in card["text"]
    assert "✅ Closed" not in card["text"]
    await delivered(harness)
    assert desk.answers() == [
        "Helpline: We read you. Is it safe to write now?",
        "Helpline: Keeping your documents from you is against the law. We can help.",
    ]
    closed_notices = [m for m in desk.person.bot_messages() if "is closed" in m.get("text", "")]
    assert len(closed_notices) == 1  # the reopen told the person nothing

    await marat.write_in_staff_chat(f"/case {desk.code}", thread=desk.thread)
    history = marat.staff_messages()[-1]["text"]
    lines = history.split("\n")
    assert lines[:3] == [
        f"📁 <b>{desk.code}</b> · Report an incident",
        "Topic: Bullying or cyberbullying · At school",
        "Status: open, taken by Marat",
    ]
    assert "Urgent: no" in lines
    assert "Messages from the person: 1, to the person: 2. Notes: 3." in lines
    events = [
        re.sub(r"^\d\d\.\d\d \d\d:\d\d · ", "", line)
        for line in lines[lines.index("History:") + 1 :]
    ]
    assert events == [
        "Dana · taken",
        "Dana · note: «Sounds like her husband reads her phone»",
        "Dana · answer sent",
        "Dana · note: «Passport: legal aid, not the police first»",
        "Dana · answer sent",
        "Dana · released",
        "Dana · handover note: «Answers in the evening only. Next: legal aid, passport.»",
        "Marat · taken",
        "Marat · case closed: Legal aid",
        "Marat · reopened",
    ]
    for secret in ("1643", "87011234567"):  # no identity of the person
        assert secret not in history
    assert any("Answers in the evening only" in line for line in transcript(harness, desk))


def transcript(h: Harness, desk: Desk) -> list[str]:
    """The staff chat as a volunteer reads it (for the issue's closing note)."""
    names = {1641: "Dana", 1642: "Marat", 7000000001: "Qorgau bot"}
    lines = []
    for m in sorted(h.api.messages[STAFF_CHAT_ID].values(), key=lambda m: m["message_id"]):
        who = names.get(m["from"]["id"], str(m["from"]["id"]))
        text = re.sub(r"<[^>]+>", "", m.get("text") or m.get("caption") or "")
        mark = "".join(h.api.reactions.get((STAFF_CHAT_ID, m["message_id"]), []))
        reply = m.get("reply_to") or (m.get("reply_to_message") or {}).get("message_id")
        head = f"[{m['message_id']}] {who}" + (f" ↪{reply}" if reply else "")
        lines.append(f"{head}: {text}" + (f"   [{mark}]" if mark else ""))
    return lines


async def test_releasing_without_a_note_and_a_note_written_after_the_take(
    harness: Harness, forum: bool
) -> None:
    dana = await join_as(harness, "lawyer", 1651, "Dana")
    aidos = await join_as(harness, "lawyer", 1652, "Aidos")
    desk = await open_case(harness, forum, 1653)
    await dana.press(desk.card(dana), "Take")
    await dana.press(desk.card(dana), "Release")
    prompt = dana.staff_messages()[-1]
    await aidos.press(prompt, "No note")  # only the releaser answers it
    await dana.press(prompt, "No note")
    assert harness.api.messages[STAFF_CHAT_ID][prompt["message_id"]]["text"] == (
        f"{desk.code} is released, without a handover note."
    )
    before = len(dana.staff_messages())
    await aidos.press(desk.card(aidos), "Take")
    assert not any("Handover note" in m.get("text", "") for m in dana.staff_messages()[before:])

    # Released again; the note comes after someone took it: it goes to them.
    await aidos.press(desk.card(aidos), "Release")
    prompt = aidos.staff_messages()[-1]
    await dana.press(desk.card(dana), "Take")
    await desk.write(aidos, "She prefers Russian.", reply_to=prompt)
    shown = dana.staff_messages()[-1]
    assert shown["text"].startswith(f"📝 Handover note for {desk.code} from Aidos (")
    assert "tg://user?id=1651" in shown["text"]
    kinds = [(n.kind, n.staff_id) for n in await notes_of(harness, desk.code)]
    assert kinds == [("skipped", 1651), ("handover", 1652)]


async def test_reopen_is_for_the_last_owner_coordinators_and_admins(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 1661, "Dana")
    aidos = await join_as(harness, "lawyer", 1662, "Aidos")
    desk = await open_case(harness, False, 1663)
    await dana.press(desk.card(dana), "Take")
    await dana.press(desk.card(dana), "Close")
    await dana.press(desk.card(dana), "Advice given")
    await aidos.send(f"/reopen {desk.code}")
    assert aidos.text.startswith("Dana has this case.")
    await dana.send("/reopen")
    assert dana.text == "Usage: /reopen CODE"
    await dana.send(f"/reopen {desk.code.replace('-', '').lower()}")
    assert dana.text.startswith(f"{desk.code} is open again, and taken by you.")
    await dana.send(f"/reopen {desk.code}")
    assert dana.text == "This case is open."
    assert "Reply" in [label for label, _ in harness.api.buttons(desk.card(dana))]
    # The person's follow-ups reach the case again; nobody told them anything.
    await desk.person.send("Thank you, one more question")
    await delivered(harness)
    assert "one more question" in dana.staff_messages()[-1]["text"]
    assert desk.answers() == []


async def test_case_history_pages_and_the_retention_erases_notes(harness: Harness) -> None:
    dana = await join_as(harness, "coordinator", 1671, "Dana")
    desk = await open_case(harness, False, 1672)
    await dana.press(desk.card(dana), "Take")
    for n in range(14):
        text = f"/note {n:02d} " + "long remark " * 40
        await desk.write(dana, text, reply_to=desk.card(dana))
    await delivered(harness)
    await dana.send(f"/case {desk.code}")  # in the private chat too
    newest = dana.screen
    assert len(re.sub(r"<[^>]+>", "", newest["text"])) <= 4096
    assert "13 long remark" in newest["text"] and "00 long remark" not in newest["text"]
    [earlier] = harness.api.buttons(newest)
    assert re.fullmatch(r"◀ \d+ earlier", earlier[0])
    assert re.search(r"Events \d+–15 of 15", newest["text"])
    while [label for label, _ in harness.api.buttons(dana.screen) if "earlier" in label]:
        await dana.tap(
            next(label for label, _ in harness.api.buttons(dana.screen) if "earlier" in label)
        )
    oldest = dana.screen
    assert "Dana · taken" in oldest["text"] and "00 long remark" in oldest["text"]
    assert re.search(r"Events 1–\d+ of 15", oldest["text"])

    # Closed longer than RETENTION_DAYS: the notes' text goes with the rest of the free text.
    await dana.press(desk.card(dana), "Close")
    await dana.press(desk.card(dana), "Advice given")
    assert harness.app is not None
    long_ago = datetime.now(UTC) - timedelta(days=91)
    async with harness.app.services.sessions.begin() as session:
        await session.execute(update(Case).values(closed_at=long_ago))
    await erase_expired(harness.app.services.sessions, 90)
    assert [n.text for n in await notes_of(harness, desk.code)] == [None] * 14
    await dana.send(f"/case {desk.code}")
    assert "note: (erased)" in dana.text
    assert "Its free text was erased after the retention period." in dana.text
    await dana.send(f"/reopen {desk.code}")
    assert dana.text.startswith("This case's text was erased")


async def test_mine_and_duty_off_list_the_cases_i_hold(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 1681, "Dana")
    first = await open_case(harness, False, 1682)
    second = await open_case(harness, False, 1683)
    await dana.send("/mine")
    assert dana.text == "You have no open cases."
    for desk in (first, second):
        await dana.press(desk.card(dana), "Take")
    await first.write(dana, "We are here.", reply_to=first.card(dana))
    await delivered(harness)
    assert harness.app is not None
    async with harness.app.services.sessions.begin() as session:  # shift time: an hour back
        hour_ago = datetime.now(UTC) - timedelta(minutes=65)
        await session.execute(
            update(Case).where(Case.code == second.code).values(created_at=hour_ago)
        )
    await dana.send("/mine")
    lines = re.sub(r"</?b>", "", dana.text).split("\n")
    assert lines[0] == "Your open cases: 2"
    assert re.fullmatch(
        rf"• {second.code} · Report an incident · waiting 1 h 5 min · last activity {TIME}",
        lines[1],
    )
    assert re.fullmatch(
        rf"• {first.code} · Report an incident · answered · last activity .+", lines[2]
    )
    # The person writes again: waiting once more.
    await first.person.send("Are you there?")
    await delivered(harness)
    await dana.write_in_staff_chat("/mine")
    assert "waiting 0 min" in dana.staff_messages()[-1]["text"]

    await dana.send("/duty off")
    said = [m["text"] for m in dana.bot_messages()][-2:]
    assert said[0] == "You are off duty. Thank you."
    assert said[1].startswith(f"You still hold 2 open cases: {second.code}, {first.code}.")
    # Someone who is not staff learns nothing.
    stranger = harness.person(1684)
    await stranger.send("/mine")
    assert stranger.text == "Only helpline staff can do this."
    await stranger.send(f"/case {first.code}")
    assert stranger.text == "Only helpline staff can do this."


async def test_case_is_not_shown_in_a_group_that_is_no_staff_chat(harness: Harness) -> None:
    admin = harness.volunteer(ADMIN_ID, "Admin", chat_id=-1005550001)
    desk = await open_case(harness, False, 1691)
    calls = len(harness.api.calls)
    await admin.write_in_staff_chat(f"/case {desk.code}")
    assert not [c for c in harness.api.calls[calls:] if c.method == "sendMessage"]


async def test_a_person_closing_and_an_answer_that_takes_the_case(harness: Harness) -> None:
    dana = await join_as(harness, "lawyer", 1695, "Dana")
    desk = await open_case(harness, False, 1696)
    # Answered without pressing Take: taken by answering.
    await desk.write(dana, "Hello, we read you.", reply_to=desk.card(dana))
    await desk.person.send("/mycases")
    await desk.person.tap(next(b for b in desk.person.buttons if "Close" in b))
    await dana.send(f"/case {desk.code}")
    assert "Status: closed by the person" in dana.text
    events = dana.text.split("History:\n")[1].split("\n")
    assert [e.split(" · ", 1)[1] for e in events] == [
        "Dana · taken",
        "Dana · answer sent",
        "closed by the person",
    ]
    case = await case_row(harness, desk.code)
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        kept = await session.scalar(select(CaseMessage.id).where(CaseMessage.case_id == case.id))
    assert kept is None  # the person's follow-ups were none
