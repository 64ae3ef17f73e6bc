"""Campaigns (issue 20): scheduled and targeted awareness messages, quiet hours, reports,
and the admin's progress message in their own language."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.services.campaigns import in_quiet_hours, parse_when
from models import Broadcast, Person
from tests.botapi import BotApi, Fault
from tests.conftest import ADMIN_ID, make_settings
from tests.harness import Harness, Volunteer
from tests.test_admin import bot_at_rate, compose, finished, received, subscribe_many

ALMATY = ZoneInfo("Asia/Almaty")


def bot(
    botapi: BotApi, database_url: str, **settings: object
) -> AbstractAsyncContextManager[Harness]:
    return bot_at_rate(botapi, database_url, 400, **settings)


def quiet_now() -> str:
    """Quiet hours that hold now, whatever the hour the suite runs at, and for the next
    hour too: a test that starts at 23:59 still runs in them (one hour only, it failed
    when the hour struck between the bot's start and the admin's "Send")."""
    hour = datetime.now(ALMATY).hour
    return f"{hour}-{(hour + 2) % 24}"


def quiet_far_from_now() -> tuple[str, int]:
    """Quiet hours that start 12 hours from now and last two (the suite runs at any hour,
    and a campaign made due now must not fall into them), and their first hour."""
    hour = (datetime.now(ALMATY).hour + 12) % 24
    return f"{hour}-{(hour + 2) % 24}", hour


def tomorrow_at(hour: int) -> str:
    day = datetime.now(ALMATY) + timedelta(days=1)
    return f"{day:%d.%m} {hour:02d}:00"


async def compose_in_kazakh(h: Harness, admin: Volunteer, text: str) -> None:
    assert h.app is not None
    await admin.send("/language")
    await admin.tap("Қазақша")
    await admin.send("/broadcast")
    await admin.send(text)
    await admin.tap(h.app.services.catalogues["kk"].gettext("Preview"))


async def make_due(h: Harness, number: int) -> None:
    """Time passes: the campaign's time is now (no real wait)."""
    assert h.app is not None
    async with h.app.services.sessions.begin() as session:
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == number)
            .values(scheduled_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    h.app.bot_data["broadcaster"].wake.set()


async def until_status(h: Harness, number: int, status: str) -> None:
    async def reached() -> bool:
        return await status_of(h, number) == status

    await h.until(reached)


async def status_of(h: Harness, number: int) -> str:
    assert h.app is not None
    broadcast = await h.app.services.broadcasts.get(number)
    assert broadcast is not None
    return broadcast.status


def test_times_are_read_in_the_zone_and_never_in_the_past() -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 15:00 in Almaty (UTC+5)
    assert parse_when("18:30", now, "Asia/Almaty") == datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
    assert parse_when("9:00", now, "Asia/Almaty") == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert parse_when("25.11 08:15", now, "Asia/Almaty") == datetime(
        2026, 11, 25, 3, 15, tzinfo=UTC
    )
    assert parse_when("01.01 12:00", now, "Asia/Almaty") == datetime(2027, 1, 1, 7, 0, tzinfo=UTC)
    assert parse_when("31.02 12:00", now, "Asia/Almaty") is None
    assert parse_when("tomorrow", now, "Asia/Almaty") is None
    assert in_quiet_hours(datetime(2026, 11, 24, 17, 30, tzinfo=UTC), "Asia/Almaty", (22, 8))
    assert in_quiet_hours(datetime(2026, 11, 24, 2, 59, tzinfo=UTC), "Asia/Almaty", (22, 8))
    assert not in_quiet_hours(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), "Asia/Almaty", (22, 8))
    assert not in_quiet_hours(datetime(2026, 11, 24, 17, 30, tzinfo=UTC), "Asia/Almaty", None)


async def test_progress_is_in_the_admins_language_and_loses_its_buttons(
    botapi: BotApi, database_url: str
) -> None:
    async with bot(botapi, database_url) as h:
        assert h.app is not None
        kk = h.app.services.catalogues["kk"]
        await subscribe_many(h, 90_000, 3)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose_in_kazakh(h, admin, "Сәлем")
        await admin.tap(kk.gettext("Send"))
        await finished(h)

        template = kk.gettext(
            "Broadcast #{number}: {status}\n"
            "Sent: {sent} · failed: {failed} · blocked: {blocked} · skipped: {skipped}\n"
            "Left: {left} of {total}\n"
            "Rate: {rate} per second · about {minutes} min left"
        )
        head = template.split("\n")[0].format(number=1, status=kk.gettext("done"))
        assert not head.startswith("Broadcast")  # in Kazakh, not in English (the default)

        def progress() -> list[dict[str, object]]:
            return [
                m
                for m in botapi.messages[ADMIN_ID].values()
                if str(m.get("text", "")).startswith(head)
            ]

        async def done() -> bool:
            return bool(progress())

        await h.until(done)
        [message] = progress()
        assert "reply_markup" not in message


async def transcript_line(lines: list[str], admin: Volunteer, action: str) -> None:
    screen = admin.screen
    buttons = " ".join(f"[{label}]" for label, _ in admin.api.buttons(screen))
    lines += [f"> {action}", str(screen.get("text", "")) + (f"\n{buttons}" if buttons else "")]


async def test_schedule_change_and_send_a_campaign_in_kazakh(
    botapi: BotApi, database_url: str
) -> None:
    """The closing note's transcript (printed; run with -s to read it)."""
    lines: list[str] = []
    quiet, night = quiet_far_from_now()
    day, later = (night + 4) % 24, (night + 5) % 24
    async with bot(botapi, database_url, quiet_hours=quiet) as h:
        assert h.app is not None
        kk = h.app.services.catalogues["kk"]
        await subscribe_many(h, 91_000, 4, "kk")
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose_in_kazakh(h, admin, "Буллингке қарсы: 111 нөміріне тегін қоңырау шалыңыз.")
        await transcript_line(lines, admin, "/broadcast, мәтін, Preview")
        await admin.tap(kk.gettext("Schedule…"))
        await transcript_line(lines, admin, kk.gettext("Schedule…"))
        await admin.send(tomorrow_at(night))  # in the quiet hours: asked to confirm
        await transcript_line(lines, admin, tomorrow_at(night))
        await admin.tap(kk.gettext("Choose another time"))
        await admin.send(tomorrow_at(day))
        await transcript_line(lines, admin, tomorrow_at(day))
        shown = f"{datetime.now(ALMATY) + timedelta(days=1):%d.%m.%Y} {day:02d}:00"
        assert admin.text.startswith(f"№1 тарату {shown} уақытына жоспарланды.")
        await h.restart()  # a restart loses nothing: it is in the database
        await admin.send("/campaigns")
        await transcript_line(lines, admin, "/campaigns")
        assert f"#1 · {tomorrow_at(day).split()[0]}" in admin.text
        await admin.tap(kk.gettext("Change the time of #{number}").format(number=1))
        await admin.send(tomorrow_at(later))
        await transcript_line(lines, admin, tomorrow_at(later))
        assert await status_of(h, 1) == "scheduled"
        assert not received(botapi, 91_000)  # nothing before its time
        await make_due(h, 1)
        await until_status(h, 1, "done")
        assert all(len(received(botapi, u)) == 1 for u in range(91_000, 91_004))
        await admin.send("/campaigns")
        await transcript_line(lines, admin, "/campaigns")
        assert "4" in admin.text.split("\n")[-1]
    print("\n".join(lines))


async def test_cancelled_campaign_never_goes_out(botapi: BotApi, database_url: str) -> None:
    async with bot(botapi, database_url) as h:
        await subscribe_many(h, 92_000, 2)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Never")
        await admin.tap("Schedule…")
        await admin.send(tomorrow_at(10))
        await admin.send("/campaigns")
        await admin.tap("Cancel #1")
        assert "Campaign #1 is cancelled. Nothing was sent." in admin.text
        await make_due(h, 1)
        await h.app.bot_data["broadcaster"].send_running()  # type: ignore[union-attr]
        assert await status_of(h, 1) == "cancelled"
        assert not received(botapi, 92_000)


async def test_nothing_goes_out_in_the_quiet_hours_unless_the_admin_insists(
    botapi: BotApi, database_url: str
) -> None:
    async with bot(botapi, database_url, quiet_hours=quiet_now()) as h:
        await subscribe_many(h, 93_000, 2)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "At night")
        await admin.tap("Send")
        assert admin.text.startswith("It is night now (quiet hours")
        # A scheduled one that falls due in the quiet hours waits for the morning.
        await admin.tap("Schedule…")
        await admin.send(tomorrow_at(10))
        await make_due(h, 1)

        async def waiting() -> bool:
            return any(
                "waiting for the morning" in str(m.get("text"))
                for m in botapi.messages[ADMIN_ID].values()
            )

        await h.until(waiting)
        assert await status_of(h, 1) == "running"
        assert not received(botapi, 93_000)
        # Confirmed: it goes now.
        await compose(admin, "At night, really")
        await admin.tap("Send")
        await admin.tap("Send now anyway")
        await h.until(lambda: _got(botapi, 93_001, "At night, really"))
        assert not any(m.get("text") == "At night" for m in received(botapi, 93_000))


async def _got(api: BotApi, user_id: int, text: str) -> bool:
    return any(m.get("text") == text for m in received(api, user_id))


async def test_targeting_by_language_and_by_a_region_people_chose_to_share(
    botapi: BotApi, database_url: str
) -> None:
    async with bot(botapi, database_url) as h:
        assert h.app is not None
        await subscribe_many(h, 94_000, 2, "kk")
        await subscribe_many(h, 94_100, 2, "ru")
        sharing = h.person(94_200)
        await sharing.send("/subscribe")
        assert "Would you like to get news for your region too?" in sharing.text
        await sharing.tap("Choose a region")
        await sharing.tap("Almaty")
        assert "You are subscribed." in sharing.text
        declining = h.person(94_201)
        await declining.send("/subscribe")
        await declining.tap("No, thanks")
        assert "You are subscribed." in declining.text
        async with h.app.services.sessions() as session:
            regions = dict((await session.execute(select(Person.pseudonym, Person.region))).all())
        identity = h.app.services.identity
        assert regions[identity.pseudonym(94_200)] == "almaty"
        assert regions[identity.pseudonym(94_201)] is None

        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Almaty news")
        await admin.tap("Choose the audience")
        await admin.tap("By region (who shared it)")
        await admin.tap("Almaty")
        assert admin.text.startswith("This goes to 1 subscriber,")
        await admin.tap("Send")
        await finished(h)
        await compose(admin, "Kazakh only")
        await admin.tap("Choose the audience")
        await admin.tap("Қазақша")
        assert "Audience: subscribers whose language is Қазақша" in admin.text
        await admin.tap("Send")
        await finished(h)
        got = {
            user: [
                str(m.get("text"))
                for m in received(botapi, user)
                if m.get("text") in ("Kazakh only", "Almaty news")
            ]
            for user in (94_000, 94_100, 94_200, 94_201)
        }
        assert got == {94_000: ["Kazakh only"], 94_100: [], 94_200: ["Almaty news"], 94_201: []}
        # Unsubscribing drops the shared region with the chat.
        await sharing.send("/unsubscribe")
        async with h.app.services.sessions() as session:
            person = await session.get(Person, identity.pseudonym(94_200))
            assert person is not None and person.region is None


async def test_report_counts_sent_blocked_unknown_and_who_left_within_a_day(
    botapi: BotApi, database_url: str
) -> None:
    async with bot(botapi, database_url) as h:
        await subscribe_many(h, 95_000, 5)
        admin = h.volunteer(ADMIN_ID, "Admin")
        await compose(admin, "Report me")
        botapi.fault_rule = lambda m, p: (
            Fault(403, "Forbidden: bot was blocked by the user")
            if p.get("text") == "Report me" and p.get("chat_id") == 95_004
            else None
        )
        await admin.tap("Send")
        await finished(h)
        leaving = h.person(95_000)
        [message] = [m for m in botapi.messages[95_000].values() if m.get("text") == "Report me"]
        await leaving.press_on(message, "Unsubscribe")
        await admin.send("/campaigns")
        assert "sent 4 · blocked 1 · unknown 0 · unsubscribed within a day 1" in admin.text, (
            admin.text
        )


@pytest.mark.parametrize("value", ["22", "25-8", "night"])
def test_bad_quiet_hours_are_named(botapi: BotApi, value: str) -> None:
    from bot.settings import ConfigError

    with pytest.raises(ConfigError, match="QUIET_HOURS"):
        make_settings(botapi, "sqlite+aiosqlite:///x.db", quiet_hours=value)


async def test_a_campaign_starts_at_its_time_with_nothing_else_waking_the_broadcaster(
    botapi: BotApi, database_url: str
) -> None:
    """An idle broadcaster looks only every IDLE_LOOK (30 s; 300 s when the bot runs alone),
    but sleeps no longer than until the next campaign's time: one scheduled two seconds ahead
    goes out then."""
    async with bot(botapi, database_url) as h:
        assert h.app is not None
        await subscribe_many(h, 91_000, 2)
        at = datetime.now(UTC) + timedelta(seconds=2)
        versions = {"en": {"text": "Know your rights", "photo": None}}
        number = await h.app.services.broadcasts.start(
            ADMIN_ID, ADMIN_ID, versions, at=at, night_ok=True
        )
        h.app.bot_data["broadcaster"].wake.set()  # as scheduling in /broadcast does, once
        await until_status(h, number, "done")
        sent = [received(botapi, user_id) for user_id in (91_000, 91_001)]
        assert [[m["text"] for m in messages] for messages in sent] == [["Know your rights"]] * 2
        assert datetime.now(UTC) >= at
