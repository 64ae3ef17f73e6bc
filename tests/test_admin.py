"""Admin: subscriptions, broadcasts, statistics, export, retention, know-your-rights
(docs/overview.md, safety rules 9 and 10)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.db import make_engine, make_sessionmaker
from bot.settings import Settings
from bot.workers.broadcaster import burst_size
from models import AuditEntry, Broadcast, BroadcastDelivery, Case, CaseMessage, Person
from tests.botapi import DROP_AFTER, BotApi, Fault
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import cases, report
from tests.harness import Harness, Volunteer


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    # Broadcasts run at 400 a second here to keep the tests short: a Telegram that allows it
    # (as it does for paid broadcasts, up to 1,000 a second).
    assert botapi.flood is not None
    botapi.flood.overall = (1000.0, 1000)
    return make_settings(botapi, database_url, default_locale="en", broadcast_rate=400)


@asynccontextmanager
async def bot_at_rate(
    botapi: BotApi, database_url: str, rate: float, **settings: object
) -> AsyncIterator[Harness]:
    """A bot of its own with BROADCAST_RATE=rate (the fixture's bot uses 400)."""
    assert botapi.flood is not None
    botapi.flood.overall = (1000.0, 1000)  # as in the fixture
    values: dict[str, object] = {"default_locale": "en", "broadcast_rate": rate, **settings}
    h = Harness(botapi, make_settings(botapi, database_url, **values))
    await h.start()
    try:
        yield h
    finally:
        botapi.fault_rule = None
        await h.stop()


async def subscribe_many(harness: Harness, first_id: int, count: int, locale: str = "en") -> None:
    """Subscribers, through the same service the /subscribe handler uses."""
    assert harness.app is not None
    services = harness.app.services
    for user_id in range(first_id, first_id + count):
        await services.people.subscribe(
            services.identity.pseudonym(user_id), services.identity.encrypt(user_id), locale
        )


async def compose(admin: Volunteer, text: str, versions: dict[str, str] | None = None) -> None:
    await admin.send("/broadcast")
    await admin.send(text)
    for language, version in (versions or {}).items():
        await admin.tap(f"Add a version in {language}")
        await admin.send(version)
    await admin.tap("Preview")


async def finished(harness: Harness, timeout: float = 60) -> None:
    assert harness.app is not None
    services = harness.app.services

    async def done() -> bool:
        return not await services.broadcasts.running()

    await harness.until(done, timeout=timeout)


def received(api: BotApi, user_id: int) -> list[dict[str, object]]:
    return [
        c.params
        for c in api.calls
        if c.method in ("sendMessage", "sendPhoto") and c.params.get("chat_id") == user_id
    ]


async def test_subscribing_is_opt_in_from_the_menu_and_commands(harness: Harness) -> None:
    person = harness.person(801)
    await person.send("/start")
    await person.tap("Awareness messages")
    assert "You are not subscribed." in person.text
    await person.tap("Subscribe")
    assert "You are subscribed." in person.text
    await person.send("/unsubscribe")
    assert "You are not subscribed." in person.text
    await person.send("/subscribe")
    assert "You are subscribed." in person.text
    assert harness.app is not None
    assert await harness.app.services.broadcasts.subscriber_count() == 1


async def test_broadcast_in_each_language_silently_with_exact_counts(harness: Harness) -> None:
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await subscribe_many(harness, 10_000, 3, "en")
    await subscribe_many(harness, 20_000, 2, "kk")
    await subscribe_many(harness, 30_000, 2, "ru")  # no Russian version: they get English
    await compose(admin, "Know your rights: call 111.", {"Қазақша": "Құқығыңызды біліңіз: 111."})
    previews = sorted(admin.bot_messages(), key=lambda m: m["message_id"])[-5:-1]
    assert [m["text"] for m in previews] == [
        "— English —",
        "Know your rights: call 111.",
        "— Қазақша —",
        "Құқығыңызды біліңіз: 111.",
    ]
    assert admin.text == (
        "This goes to 7 subscribers, silently, at most 400 per second. Send?\n"
        "Audience: all subscribers"
    )
    await admin.tap("Send")
    await finished(harness)
    for user_id in (10_000, 10_001, 10_002, 30_000, 30_001):
        [message] = received(harness.api, user_id)
        assert message["text"] == "Know your rights: call 111."
        assert message["disable_notification"] is True
    for user_id in (20_000, 20_001):
        [message] = received(harness.api, user_id)
        assert message["text"] == "Құқығыңызды біліңіз: 111."

    def progress_message() -> dict[str, Any]:
        return next(
            m
            for m in harness.api.messages[ADMIN_ID].values()
            if str(m.get("text", "")).startswith("Broadcast #1:")
        )

    async def final_edit_done() -> bool:  # the last edit comes just after the status
        return "done" in str(progress_message()["text"])

    await harness.until(final_edit_done)
    final = progress_message()
    assert final["text"].startswith("Broadcast #1: done\nSent: 7 · failed: 0 · blocked: 0")
    assert "Left: 0 of 7" in final["text"]


async def test_thousands_with_opt_outs_blocked_and_429_exactly_once(harness: Harness) -> None:
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await subscribe_many(harness, 100_000, 2000)
    assert harness.app is not None
    services = harness.app.services
    for user_id in range(100_000, 100_100):  # 100 opt out again
        await services.people.unsubscribe(services.identity.pseudonym(user_id))
    blocked = set(range(100_100, 100_150))  # 50 blocked the bot
    harness.api.blocked |= blocked
    # One person has an open case: no awareness message for them until it is closed.
    with_case = harness.person(100_150)
    await report(with_case)
    throttled = Counter[int]()

    def sometimes_429(method: str, params: dict[str, object]) -> Fault | None:
        chat = params.get("chat_id")
        if (
            method == "sendMessage"
            and isinstance(chat, int)
            and chat % 397 == 0  # four of them: each costs the broadcast a 1 s pause
            and not throttled[chat]
        ):
            throttled[chat] += 1
            return Fault(429, "Too Many Requests: retry after 1", retry_after=1)
        return None

    harness.api.fault_rule = sometimes_429
    await compose(admin, "Awareness day")
    await admin.tap("Send")
    await finished(harness, timeout=90)
    harness.api.fault_rule = None

    per_person = Counter(
        c.params["chat_id"]
        for c in harness.api.calls
        if c.method == "sendMessage"
        and c.params.get("text") == "Awareness day"
        and c.params["chat_id"] != ADMIN_ID  # the admin's preview
    )
    assert sum(throttled.values()) > 0
    # 2000 subscribed - 100 opted out = 1900 recipients; 50 blocked; 1 with an open case.
    async with services.sessions() as session:
        statuses = Counter((await session.scalars(select(BroadcastDelivery.status))).all())
    assert statuses == {"sent": 1849, "blocked": 50, "skipped": 1}
    ok = [
        c
        for c in harness.api.calls
        if c.method == "sendMessage"
        and c.params.get("text") == "Awareness day"
        and c.params["chat_id"] not in blocked | {ADMIN_ID}
    ]
    assert len({c.params["chat_id"] for c in ok}) == 1849
    assert with_case.user.id not in per_person
    # Nobody got it twice (a 429 is a refusal: the retry is the only delivery).
    accepted = Counter(c.params["chat_id"] for c in ok) - throttled
    assert max(accepted.values()) == 1
    # The blocked are marked and skipped from now on.
    async with services.sessions() as session:
        marked = await session.scalars(select(Person).where(Person.blocked_at.is_not(None)))
        assert len(marked.all()) == 50
    assert await services.broadcasts.subscriber_count() == 1850


@pytest.mark.parametrize("rate", [20])
async def test_rate_stays_within_broadcast_rate(
    botapi: BotApi, database_url: str, rate: int
) -> None:
    async with bot_at_rate(botapi, database_url, rate) as h:
        await subscribe_many(h, 50_000, 60)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Paced")
        await admin.tap("Send")
        await finished(h)
        times = sorted(
            c.at
            for c in botapi.calls
            if c.params.get("text") == "Paced" and 50_000 <= c.params.get("chat_id", 0) < 60_000
        )
        assert len(times) == 60
        for i, start in enumerate(times):
            in_window = sum(1 for t in times[i:] if t - start < 1.0)
            # Bursts go out together: timing jitter can bring one more burst into a window.
            assert in_window <= rate + burst_size(rate), in_window
        achieved = (len(times) - 1) / (times[-1] - times[0])
        assert achieved <= rate * 1.05


async def test_restart_mid_broadcast_resumes_without_duplicates(
    botapi: BotApi, database_url: str
) -> None:
    async with bot_at_rate(botapi, database_url, 100) as h:
        await subscribe_many(h, 60_000, 300)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Resume me")
        await admin.tap("Send")

        def sent() -> int:
            return sum(
                1
                for c in botapi.calls
                if c.params.get("text") == "Resume me"
                and 60_000 <= c.params.get("chat_id", 0) < 70_000
            )

        async def some() -> bool:
            return sent() >= 80

        await h.until(some)
        await h.stop()  # in the middle of a batch
        assert 80 <= sent() < 300
        engine = make_engine(database_url)
        async with make_sessionmaker(engine)() as session:
            left = await session.scalars(
                select(BroadcastDelivery.status).where(BroadcastDelivery.status == "claimed")
            )
            assert list(left) == []  # a clean stop hands back even the burst in hand
        await engine.dispose()
        await h.start()
        # A clean stop hands every claimed row back: the rest goes out at once, not after
        # the 30 s a crashed sender's rows are left alone (IN_FLIGHT_GRACE).
        await finished(h, timeout=15)
        per_person = Counter(
            c.params["chat_id"]
            for c in botapi.calls
            if c.params.get("text") == "Resume me" and c.params["chat_id"] != ADMIN_ID
        )
        assert len(per_person) == 300 and max(per_person.values()) == 1


async def test_after_a_crash_only_the_message_on_its_way_is_in_doubt(
    harness: Harness,
) -> None:
    """A kill -9 leaves a claimed batch and one message on its way. On start the batch is
    sent (nothing of it had gone out); the one on its way is not sent again (it may have
    arrived) and is counted as unknown."""
    await subscribe_many(harness, 65_000, 3)
    assert harness.app is not None
    services = harness.app.services
    await harness.stop()  # the bot is dead; the database shows what it left
    identity, long_ago = services.identity, datetime.now(UTC) - timedelta(minutes=5)
    states = {65_000: "claimed", 65_001: "sending", 65_002: "pending"}
    engine = make_engine(harness.settings.database_url)
    async with make_sessionmaker(engine).begin() as session:
        broadcast = Broadcast(
            created_by=ADMIN_ID,
            admin_chat_id=ADMIN_ID,
            versions=json.dumps({"en": {"text": "Left behind", "photo": None}}),
        )
        session.add(broadcast)
        await session.flush()
        session.add_all(
            BroadcastDelivery(
                broadcast_id=broadcast.id,
                person=identity.pseudonym(user_id),
                status=status,
                at=long_ago,
            )
            for user_id, status in states.items()
        )
    await engine.dispose()
    await harness.start()
    await finished(harness)
    assert [len(received(harness.api, user_id)) for user_id in states] == [1, 0, 1]
    async with harness.app.services.sessions() as session:
        rows = await session.execute(select(BroadcastDelivery.person, BroadcastDelivery.status))
        recorded: dict[str, str] = dict(rows.all())
    assert [recorded[identity.pseudonym(u)] for u in states] == ["sent", "unknown", "sent"]


async def test_telegram_failing_a_broadcast_message(botapi: BotApi, database_url: str) -> None:
    """Telegram answers 500: sent again later. The connection is cut after Telegram took the
    message: no answer, so it may have arrived; it is not sent again (nobody gets it twice)."""
    async with bot_at_rate(botapi, database_url, 100) as h:
        await subscribe_many(h, 66_000, 3)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Mind the gap")
        faults = {66_000: Fault(500, "Internal Server Error"), 66_001: Fault(DROP_AFTER, "")}
        botapi.fault_rule = lambda m, p: (
            faults.pop(p["chat_id"], None) if p.get("text") == "Mind the gap" else None
        )
        await admin.tap("Send")
        await finished(h)
        assert not faults  # both happened
        delivered = [
            sum(m.get("text") == "Mind the gap" for m in botapi.messages[user_id].values())
            for user_id in (66_000, 66_001, 66_002)
        ]
        assert delivered == [1, 1, 1]
        assert h.app is not None
        identity = h.app.services.identity
        async with h.app.services.sessions() as session:
            rows = await session.execute(select(BroadcastDelivery.person, BroadcastDelivery.status))
            recorded: dict[str, str] = dict(rows.all())
        statuses = [recorded[identity.pseudonym(u)] for u in (66_000, 66_001, 66_002)]
        assert statuses == ["sent", "unknown", "sent"]


async def test_people_are_answered_at_once_during_a_broadcast(
    botapi: BotApi, database_url: str
) -> None:
    async with bot_at_rate(botapi, database_url, 50) as h:
        await subscribe_many(h, 70_000, 400)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Long one")
        # Telegram throttles the broadcast hard: it must not hold up anyone else.
        botapi.fault_rule = lambda m, p: (
            Fault(429, "Too Many Requests: retry after 3", retry_after=3)
            if p.get("text") == "Long one" and p.get("chat_id") == 70_050
            else None
        )
        await admin.tap("Send")
        # The broadcast is under way and the throttled chat has had its 429.
        await botapi.wait_for(
            lambda c: c.params.get("chat_id") == 70_050 and c.params.get("text") == "Long one",
            timeout=30,
        )
        latencies = []
        for n in range(5):
            person = h.person(71_000 + n)
            started = time.monotonic()
            await person.send("/start")
            latencies.append(time.monotonic() - started)
            assert person.text.startswith("If you or someone else is in danger now")
        assert max(latencies) < 0.5, latencies
        assert await h.app.services.broadcasts.running()  # type: ignore[union-attr]


async def test_admin_can_pause_resume_and_cancel(botapi: BotApi, database_url: str) -> None:
    async with bot_at_rate(botapi, database_url, 20) as h:
        await subscribe_many(h, 80_000, 200)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Pausable")
        await admin.tap("Send")

        def sent() -> int:
            return sum(1 for c in botapi.calls if c.params.get("text") == "Pausable")

        async def sent_at_least(n: int) -> bool:
            return sent() >= n

        async def progress_shown() -> bool:  # the first progress edit brings Pause and Cancel
            return "Pause" in admin.buttons

        await h.until(progress_shown, timeout=30)
        await admin.tap("Pause")
        assert "paused" in admin.screen["text"]
        broadcasts = h.app.services.broadcasts  # type: ignore[union-attr]
        assert not await broadcasts.running()  # the broadcaster sends running ones only
        count = sent()
        await admin.tap("Resume")
        await h.until(lambda: sent_at_least(count + 5), timeout=30)
        stranger = h.volunteer(80_500, "X")
        calls = len(botapi.calls)
        await stranger.press(admin.screen, "Cancel")  # not an admin: refused
        [answer] = [c for c in botapi.calls[calls:] if c.method == "answerCallbackQuery"]
        assert answer.params["text"] == "Only admins can do this."
        assert await h.app.services.broadcasts.running()  # type: ignore[union-attr]
        await admin.tap("Cancel")
        await finished(h)
        total = sum(1 for c in botapi.calls if c.params.get("text") == "Pausable")
        assert count < total < 200
        assert "cancelled" in admin.screen["text"]


async def test_stats_and_chart_for_admins_and_coordinators_only(harness: Harness) -> None:
    for n in range(3):
        await report(harness.person(900 + n))
    await report(
        harness.person(903),
        steps=[
            "Report an incident",
            "Yes, it is safe",
            "Violence at home",
            "Me",
            "30–59",
            "Almaty",
        ],
    )
    assert harness.app is not None
    async with harness.app.services.sessions.begin() as session:
        # Counted from the case's creation (not from now: on a slow machine the reports
        # above take seconds, and 4 minutes became 4.1).
        created = await session.scalar(select(Case.created_at).where(Case.id == 1))
        assert created is not None
        await session.execute(
            update(Case)
            .where(Case.id == 1)
            .values(
                taken_at=created + timedelta(minutes=4),
                first_answer_at=created + timedelta(minutes=10),
                rating=4,
            )
        )
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/stats 7")
    texts = [m.get("text", "") for m in admin.bot_messages()]
    text = next(t for t in texts if t.startswith("Cases in the last 7 days: 4"))
    assert "• Report an incident: 4" in text
    assert "• Bullying or cyberbullying: 3" in text and "• Violence at home: 1" in text
    assert "• Karaganda region: 3" in text and "• Almaty: 1" in text
    assert "Median time to take: 4 min" in text
    assert "Rating: 4.0 of 5 (1 answers)" in text
    photos = [
        c for c in harness.api.calls if c.method == "sendPhoto" and c.params["chat_id"] == ADMIN_ID
    ]
    assert len(photos) == 1 and photos[0].params["photo"][:8] == b"\x89PNG\r\n\x1a\n"
    lawyer = harness.volunteer(950, "L")
    await lawyer.send("/stats")
    assert lawyer.text == "Only admins and coordinators can do this."


async def test_export_is_anonymised_and_audited(harness: Harness) -> None:
    person = harness.person(960, first_name="Gulnara")
    code = await report(person, description="He hit me, Gulnara")
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/export 30")
    [document] = [c for c in harness.api.calls if c.method == "sendDocument"]
    rows = list(csv.DictReader(io.StringIO(document.params["document"].decode("utf-8-sig"))))
    assert [r["code"] for r in rows] == [code]
    assert "description" not in rows[0] and "person" not in rows[0]
    dump = document.params["document"].decode()
    assert "Gulnara" not in dump and "960" not in dump.replace(code, "")
    await admin.send("/export 30 text")
    with_text = [c for c in harness.api.calls if c.method == "sendDocument"][-1]
    assert "He hit me" in with_text.params["document"].decode("utf-8-sig")
    async with harness.app.services.sessions() as session:  # type: ignore[union-attr]
        actions = [e.action for e in (await session.scalars(select(AuditEntry))).all()]
    assert actions.count("export") == 2


async def test_retention_erases_free_text_and_reply_addresses(harness: Harness) -> None:
    old, recent = harness.person(970), harness.person(971)
    await report(old, description="old story")
    await old.send("a follow-up")
    await report(recent, description="recent story")
    assert harness.app is not None
    services = harness.app.services
    async with services.sessions.begin() as session:
        await session.execute(
            update(Case).values(status="closed", closed_at=datetime.now(UTC) - timedelta(days=10))
        )
        await session.execute(
            update(Case)
            .where(Case.id == 1)
            .values(
                closed_at=datetime.now(UTC) - timedelta(days=91),
                person_wrote_at=datetime.now(UTC) - timedelta(days=91),  # safe times (issue 13)
            )
        )
    assert harness.app.job_queue is not None
    [job] = [j for j in harness.app.job_queue.jobs() if j.name == "retention"]
    await job.run(harness.app)
    first, second = await cases(harness)
    assert (first.description, first.reply_to, first.person) == (None, None, None)
    assert first.person_wrote_at is None  # when they last wrote goes with them
    assert first.category == "bullying"  # the anonymous facts stay
    assert second.description == "recent story" and second.reply_to is not None
    async with services.sessions() as session:
        texts = [
            m.text
            for m in (
                await session.scalars(select(CaseMessage).where(CaseMessage.case_id == 1))
            ).all()
        ]
    assert texts == [None]


@pytest.mark.parametrize(
    ("locale", "menu", "topic", "expected", "source"),
    [
        ("en", "Know your rights", "Violence at home", "Since 2024, beating", "Source: Law"),
        ("ru", "Ваши права", "Насилие в семье", "С 2024 года побои", "Источник: Закон"),
        ("kk", "Құқықтарыңыз", "Тұрмыстық зорлық-зомбылық", "2024 жылдан бастап", "Дереккөз:"),
    ],
)
async def test_know_your_rights_pages_carry_their_source(
    harness: Harness, locale: str, menu: str, topic: str, expected: str, source: str
) -> None:
    person = harness.person(980, language_code=locale)
    await person.send("/start")
    await person.tap(menu)
    await person.tap(topic)
    assert expected in person.text
    assert "72-VIII" in person.text  # the source, in the person's language
