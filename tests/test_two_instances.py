"""Two instances behind one webhook share one PostgreSQL database (docs/operations.md).

The test plays Telegram and a round-robin load balancer: each update goes to one instance
or the other, and two updates of the same chat can reach both at the same moment. Nothing
may be lost, reordered into a wrong state, or delivered twice.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from bot.app import QorgauApplication
from bot.compose import build_application
from bot.web import SECRET_HEADER, serve_webhook
from bot.workers.broadcaster import burst_size
from models import Case, ConversationState, OutboxMessage
from tests.botapi import BotApi, User
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, database_for, make_settings
from tests.harness import ended
from tests.test_webhook import free_port

pytestmark = pytest.mark.skipif(
    os.environ.get("QORGAU_TEST_DB") != "postgresql",
    reason="several instances share a PostgreSQL database; SQLite serves one instance",
)
SECRET = "two-instances-secret"


class Instance:
    def __init__(self, botapi: BotApi, database_url: str, **overrides: object) -> None:
        self.port = free_port()
        settings = make_settings(
            botapi,
            database_url,
            default_locale="en",
            webhook_url="https://qorgau.example.org/tg/hook",
            webhook_secret=SECRET,
            port=self.port,
            **overrides,
        )
        self.app: QorgauApplication = build_application(settings)
        self.stop = asyncio.Event()

    async def start(self) -> None:
        self.task = asyncio.create_task(serve_webhook(self.app, self.stop))
        for _ in range(3000):
            if self.app.running:
                return
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        raise AssertionError("instance did not start")

    async def post(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        url = f"http://127.0.0.1:{self.port}/tg/hook"
        async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 200


@pytest.fixture
async def instances(botapi: BotApi, tmp_path: Path) -> AsyncIterator[list[Instance]]:
    async for url in database_for("postgresql", tmp_path):  # new and empty
        async for pair in _started(botapi, url):
            yield pair


async def _started(
    botapi: BotApi, database_url: str, **overrides: object
) -> AsyncIterator[list[Instance]]:
    pair = [Instance(botapi, database_url, **overrides) for _ in range(2)]
    # Started together: they take turns to migrate the same empty database.
    await asyncio.gather(*(i.start() for i in pair))
    yield pair
    for instance in pair:
        instance.stop.set()
    await asyncio.gather(*(ended(i.task, 30) for i in pair))


async def scalar(app: QorgauApplication, query: Any) -> Any:
    async with app.services.sessions() as session:
        return await session.scalar(query)


async def outbox_empty(app: QorgauApplication) -> None:
    query = select(func.count()).where(OutboxMessage.status == "pending")
    for _ in range(3000):
        if await scalar(app, query) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the outbox did not empty")


STEPS = [
    "m:report",
    "i:safe:yes",
    "i:category:bullying",
    "i:follow:school",
    "i:affected:me",
    "i:age:14_17",
    "i:region:almaty",
]


async def test_two_instances_share_flows_and_deliver_everything_once(
    botapi: BotApi, instances: list[Instance]
) -> None:
    a, b = instances
    person = User(5101, first_name="Dina")
    balancer = iter([a, b] * 100)  # round robin

    async with aiohttp.ClientSession() as http:

        async def deliver(to: Instance | None = None) -> None:
            await (to or next(balancer)).post(http, botapi._updates[-1])

        await botapi.send(person, "/start")
        await deliver()
        for data in STEPS:  # every step on the other instance than the one before
            await botapi.press(person, botapi.screen(person.id), data)
            await deliver()
        assert botapi.screen(person.id)["text"].startswith("Write what happened")

        # Two parts of the description arrive at both instances at the same moment.
        await botapi.send(person, "Part one: they take my phone.")
        first = botapi._updates[-1]
        await botapi.send(person, "Part two: every day after class.")
        second = botapi._updates[-1]
        await asyncio.gather(a.post(http, first), b.post(http, second))

        for data in ["i:describe:next", "i:answer:yes", "i:consent:agree", "i:summary:send"]:
            await botapi.press(person, botapi.screen(person.id), data)
            await deliver()
        # Telegram resends the last update (no answer reached it): to the other instance.
        await deliver()
    sent = botapi.screen(person.id)["text"]
    assert sent.startswith("Sent! Your code:"), sent

    [case] = (await _cases(a.app))[:]
    assert case.description is not None
    assert "Part one" in case.description and "Part two" in case.description
    await asyncio.gather(outbox_empty(a.app), outbox_empty(b.app))
    cards = [
        m
        for m in botapi.messages[STAFF_CHAT_ID].values()
        if m["from"]["is_bot"] and case.code in m.get("text", "")
    ]
    assert len(cards) == 1, [c["text"][:40] for c in cards]

    # The escalation job runs on both instances at once: the case is re-posted once.
    async with a.app.services.sessions.begin() as session:
        await session.execute(
            update(Case).values(created_at=datetime.now(UTC) - timedelta(hours=5))
        )
    await asyncio.gather(*(_run_job(i.app, "escalate") for i in instances))
    escalations = select(func.count()).where(OutboxMessage.kind == "escalation")
    assert await scalar(a.app, escalations) == 1


async def test_an_idle_flow_ends_once_whichever_instance_sweeps(
    botapi: BotApi, instances: list[Instance]
) -> None:
    a, b = instances
    person = User(5102)
    async with aiohttp.ClientSession() as http:
        await botapi.send(person, "/start")
        await a.post(http, botapi._updates[-1])
        await botapi.press(person, botapi.screen(person.id), "m:report")
        await b.post(http, botapi._updates[-1])
    async with a.app.services.sessions.begin() as session:
        await session.execute(
            update(ConversationState).values(updated_at=datetime.now(UTC) - timedelta(minutes=31))
        )
    await asyncio.gather(*(_run_job(i.app, "flow-timeout") for i in instances))
    notes = [
        c
        for c in botapi.calls
        if c.method == "sendMessage" and "no answer for 30 minutes" in c.params.get("text", "")
    ]
    assert len(notes) == 1 and notes[0].params["chat_id"] == person.id
    assert await scalar(a.app, select(func.count()).select_from(ConversationState)) == 0


async def _cases(app: QorgauApplication) -> list[Case]:
    async with app.services.sessions() as session:
        return list((await session.scalars(select(Case))).all())


async def _run_job(app: QorgauApplication, name: str) -> None:
    assert app.job_queue is not None
    [job] = [j for j in app.job_queue.jobs() if j.name == name]
    await job.run(app)


async def test_one_instance_broadcasts_at_a_time(botapi: BotApi, tmp_path: Path) -> None:
    """Both instances run the broadcast loop; the rate is the bot's, not each instance's."""
    rate = 50
    assert botapi.flood is not None
    botapi.flood.overall = (1000.0, 1000)  # a Telegram that allows 50 a second (paid broadcasts)
    async for url in database_for("postgresql", tmp_path):
        async for a, b in _started(botapi, url, broadcast_rate=rate):
            services = a.app.services
            for user_id in range(5200, 5400):
                await services.people.subscribe(
                    services.identity.pseudonym(user_id), services.identity.encrypt(user_id), "en"
                )
            versions = {"en": {"text": "Know your rights", "photo": None}}
            await services.broadcasts.start(ADMIN_ID, ADMIN_ID, versions)
            for instance in (a, b):
                instance.app.bot_data["broadcaster"].wake.set()
            for _ in range(1000):
                if not await services.broadcasts.running():
                    break
                await asyncio.sleep(0.02)
    times = sorted(c.at for c in botapi.calls if c.params.get("text") == "Know your rights")
    per_person = Counter(
        c.params["chat_id"] for c in botapi.calls if c.params.get("text") == "Know your rights"
    )
    assert len(per_person) == 200 and max(per_person.values()) == 1
    most_in_a_second = max(
        sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)
    )
    # Bursts go out together: timing jitter can bring one more burst into a second.
    assert most_in_a_second <= rate + burst_size(rate)
