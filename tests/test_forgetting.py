"""Forgetting forgets (docs/safety.md, rule 8; issue 15): after /forget, and after retention,
nothing in any table of the database leads back to the person. The probe reads every table
and column as a thief with the bot's keys would: it decrypts every encrypted value it finds
and looks for the person's Telegram id (their chat id in a private chat) and for every keyed
value derived from it (pseudonyms and lookup hashes)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, select, update
from sqlalchemy.engine import Connection

from bot.app import Services
from bot.settings import Settings
from models import Case
from tests.botapi import BotApi, Fault
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, make_settings
from tests.flows import broadcast, cases, report
from tests.harness import Harness

PERSON = 5_550_001_234  # a Telegram id no counter in the database reaches by chance
FERNET_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_=-]+")


@pytest.fixture
def settings(botapi: BotApi, database_url: str) -> Settings:
    return make_settings(botapi, database_url, default_locale="en")


def _leads_to(value: Any, user_id: int) -> bool:
    """Whether a (decrypted) value holds the id, at any depth."""
    if isinstance(value, dict):
        return any(_leads_to(v, user_id) or _leads_to(k, user_id) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_leads_to(v, user_id) for v in value)
    if isinstance(value, bool):
        return False
    return value == user_id or (isinstance(value, str) and str(user_id) in value)


def keyed_values(services: Services, user_id: int, names: list[str]) -> set[str]:
    """Every pseudonym and lookup hash the bot derives from this person's id."""
    identity = services.identity
    values = {identity.pseudonym(user_id)}
    values.add(identity.keyed_hash("persistence:" + json.dumps(user_id)))
    values.add(identity.keyed_hash(f"lease:{user_id}"))
    for name in names:
        values.add(identity.keyed_hash("persistence:" + json.dumps([name, user_id, user_id])))
    return values


def every_value(connection: Connection) -> Iterator[tuple[str, str, Any]]:
    """(table, column, value) for every value in the database."""
    metadata = MetaData()
    metadata.reflect(connection)
    for table in metadata.sorted_tables:
        for row in connection.execute(select(table)).mappings():
            for column, value in row.items():
                yield table.name, column, value


async def traces(harness: Harness, user_id: int) -> list[str]:
    """Where in the database the person can still be found: table.column and how."""
    assert harness.app is not None
    services = harness.app.services
    names = [h.name for h in harness.app.persistent_conversations() if h.name]
    keyed = keyed_values(services, user_id, names)
    async with services.engine.connect() as connection:
        rows = await connection.run_sync(lambda c: list(every_value(c)))
    found = []
    for table, column, value in rows:
        if _leads_to(value, user_id):
            found.append(f"{table}.{column}: the id in the clear")
        if not isinstance(value, str):
            continue
        if any(k in value for k in keyed):
            found.append(f"{table}.{column}: a pseudonym or keyed hash")
        for token in FERNET_TOKEN.findall(value):
            try:
                plain = services.identity.decrypt(token)
            except ValueError:
                continue
            if _leads_to(plain, user_id):
                found.append(f"{table}.{column}: decrypts to the id")
    return sorted(set(found))


async def a_person_who_used_everything(harness: Harness) -> str:
    """Language, subscription, a case answered both ways with a photo, a broadcast, a flow
    in progress; returns the case's code."""
    person = harness.person(PERSON, first_name="Aigerim")
    await person.send("/start")
    await person.tap("Language")
    await person.tap("English")
    await person.send("/subscribe")
    code = await report(person, description="He hits me at home")
    await person.send("He did it again")
    await person.send("", photo=[{"file_id": "ph", "file_unique_id": "u", "width": 1, "height": 1}])
    await harness.until(harness.outbox_empty)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    card = admin.card(code)
    await admin.press(card, "Take")
    await admin.write_in_staff_chat("We are here. Are you safe now?", reply_to=admin.card(code))
    await harness.until(harness.outbox_empty)
    assert person.text == "Helpline: We are here. Are you safe now?"
    await broadcast(harness, "Know your rights: call 111.")
    await person.send("/start")
    await person.tap("Legal help")  # a flow in progress when they ask to be forgotten
    return code


async def test_forget_leaves_nothing_that_leads_to_the_person(harness: Harness) -> None:
    code = await a_person_who_used_everything(harness)
    assert await traces(harness, PERSON), "the probe finds nothing even before /forget"
    person = harness.person(PERSON)
    await person.send("/forget")
    await person.tap("Yes, erase")
    assert person.text.startswith("Done. We no longer know which requests were yours.")
    await harness.until(harness.outbox_empty)
    left = await traces(harness, PERSON)
    assert left == [], left
    [case] = await cases(harness)
    assert (case.code, case.category, case.person, case.reply_to) == (code, "bullying", None, None)

    # The staff still try to answer: they are told, and nothing comes back.
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.write_in_staff_chat("Are you there?", reply_to=admin.card(code))
    await harness.until(harness.outbox_empty)
    assert admin.staff_messages()[-1]["text"] == "This case is closed."
    assert await traces(harness, PERSON) == []

    assert harness.app is not None and harness.app.job_queue is not None
    async with harness.app.services.sessions.begin() as session:
        await session.execute(update(Case).values(closed_at=datetime.now(UTC) - timedelta(days=91)))
    [job] = [j for j in harness.app.job_queue.jobs() if j.name == "retention"]
    await job.run(harness.app)
    assert await traces(harness, PERSON) == []
    [case] = await cases(harness)
    assert (case.category, case.description) == ("bullying", None)  # anonymous facts stay


async def test_a_file_not_yet_passed_on_when_the_person_forgets(harness: Harness) -> None:
    """Its copy needs the person's chat, which /forget erases: staff get a note instead, and
    the outbox neither keeps the chat nor tries forever."""
    person = harness.person(PERSON)
    code = await report(person, description="He hits me at home")
    await harness.until(harness.outbox_empty)
    harness.api.fault_rule = lambda method, params: (
        Fault(500, "Internal Server Error") if params.get("chat_id") == STAFF_CHAT_ID else None
    )
    await person.send("", photo=[{"file_id": "ph", "file_unique_id": "u", "width": 1, "height": 1}])
    await person.send("/forget")
    await person.tap("Yes, erase")
    assert await traces(harness, PERSON) == []
    forgotten_at = len(harness.api.calls)
    harness.api.fault_rule = None
    assert harness.app is not None
    await harness.app.services.outbox.due_now()
    harness.app.services.outbox.poke()
    await harness.until(harness.outbox_empty)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    note = admin.staff_messages()[-1]
    assert note["text"] == (
        f"💬 <b>{code}</b>: (a file the person sent could not be passed on: "
        "the link to their chat is gone)"
    )
    assert "copyMessage" not in [c.method for c in harness.api.calls[forgotten_at:]]
