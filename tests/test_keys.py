"""Keys can rotate (issue 15): with the old key in SECRET_KEYS_OLD the bot starts with flows
in progress, answers old cases, reaches old subscribers and recognises people; after
`python -m bot.rotate_keys` the old key is not needed for anything it could move. Weak keys
are refused at start with one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.services.identity import Identity
from bot.settings import ConfigError, load_settings
from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import AFTER_DESCRIPTION, REPORT, broadcast, report, tap_all
from tests.harness import Harness, Person
from tests.test_forgetting import FERNET_TOKEN, every_value

ROOT = Path(__file__).resolve().parent.parent
OLD_KEY = "Qorgau-old-key-3Fh8Lq2Wz7Nc5Tv1Kx9Bm4Rp6"
NEW_KEY = "Qorgau-new-key-9Gd4Ms7Yb2Jx6Qw1Hn8Vt3Lk5"
ANSWERED, UNANSWERED, SUBSCRIBER, IN_A_FLOW = 1801, 1802, 1803, 1804


def bot(botapi: BotApi, url: str, key: str, old: str = "") -> Harness:
    return Harness(
        botapi,
        make_settings(botapi, url, default_locale="en", secret_key=key, secret_keys_old=old),
    )


async def answer(h: Harness, code: str, words: str) -> None:
    admin = h.volunteer(ADMIN_ID, "Admin")
    await admin.write_in_staff_chat(words, reply_to=admin.card(code))
    await h.until(h.outbox_empty)


def received(botapi: BotApi, user_id: int, words: str) -> bool:
    return any(
        c.params.get("chat_id") == user_id and c.params.get("text") == words
        for c in botapi.calls
        if c.method == "sendMessage"
    )


async def open_cases(person: Person) -> str:
    await person.send("/mycases")
    return person.text


async def encrypted_values(h: Harness) -> list[str]:
    """Every encrypted value in every table and column."""
    assert h.app is not None
    async with h.app.services.engine.connect() as connection:
        rows = await connection.run_sync(lambda c: list(every_value(c)))
    return [t for _, _, v in rows if isinstance(v, str) for t in FERNET_TOKEN.findall(v)]


async def run_module(module: str, cwd: Path, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_new_key_with_the_old_one_kept_then_rotated(
    botapi: BotApi, any_database_url: str, tmp_path: Path
) -> None:
    h = bot(botapi, any_database_url, OLD_KEY)
    await h.start()
    answered, unanswered = h.person(ANSWERED), h.person(UNANSWERED)
    subscriber, in_a_flow = h.person(SUBSCRIBER), h.person(IN_A_FLOW)
    code = await report(answered)
    await unanswered.send("/start")
    await tap_all(unanswered, [*REPORT, "Skip", "No, just record it", "I agree", "Send"])
    await subscriber.send("/subscribe")
    await in_a_flow.send("/start")
    await tap_all(in_a_flow, REPORT[:5])
    assert in_a_flow.text == "How old are you?"
    await h.until(h.outbox_empty)
    await h.stop()

    # SECRET_KEY changes; the old one goes to SECRET_KEYS_OLD.
    h = bot(botapi, any_database_url, NEW_KEY, OLD_KEY)
    await h.start()  # with a flow in progress
    answered, unanswered, in_a_flow = h.person(ANSWERED), h.person(UNANSWERED), h.person(IN_A_FLOW)
    await in_a_flow.tap("30–59")
    assert in_a_flow.text.startswith("Where are you?")
    await answer(h, code, "Still with you.")
    assert answered.text == "Helpline: Still with you."
    await broadcast(h, "Know your rights: call 111.")
    assert received(botapi, SUBSCRIBER, "Know your rights: call 111.")
    assert "Your open requests:" in await open_cases(unanswered)
    await h.stop()

    code_, out, err = await run_module(
        "bot.rotate_keys",
        tmp_path,
        BOT_TOKEN=botapi.token,
        STAFF_CHAT_ID="-100",
        DATABASE_URL=any_database_url,
        SECRET_KEY=NEW_KEY,
        SECRET_KEYS_OLD=OLD_KEY,
    )
    assert code_ == 0, err
    assert "Encrypted values moved to the newest SECRET_KEY:" in out

    # The old key is gone: everything it made was moved.
    h = bot(botapi, any_database_url, NEW_KEY)
    await h.start()
    answered, unanswered, in_a_flow = h.person(ANSWERED), h.person(UNANSWERED), h.person(IN_A_FLOW)
    try:
        tokens = await encrypted_values(h)
        assert tokens
        new_only = Identity(NEW_KEY)
        for token in tokens:
            new_only.decrypt(token)  # raises if only the old key reads it
        await tap_all(in_a_flow, ["Other regions…", "Karaganda region", "Skip"])
        await tap_all(in_a_flow, [*AFTER_DESCRIPTION[1:], "Send"])
        assert in_a_flow.text.startswith("Sent.")
        await answer(h, code, "And now?")
        assert answered.text == "Helpline: And now?"
        assert code in await open_cases(answered)
        assert "Your open requests:" in await open_cases(unanswered)
        await broadcast(h, "Second message.")
        assert received(botapi, SUBSCRIBER, "Second message.")
    finally:
        await h.stop()


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("test-secret-key-0123456789", "shorter than 32 characters"),
        ("a" * 48, "repeated characters"),
        ("passwordpasswordpassword12345678", "repeated characters"),
        ("abcdefghijklmnopqrstuvwxyz0123456789ABCD", "a sequence of characters"),
        ("0123456789abcdef0123456789abcdef", "a sequence of characters"),
    ],
)
def test_weak_keys_are_refused_with_one_line(key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, bot_token="1:x", staff_chat_id=-100, secret_key=key)
    assert caught.value.lines == [
        f"SECRET_KEY is too weak ({reason}): generate one with "
        'python -c "import secrets; print(secrets.token_urlsafe(48))"'
    ]


def test_python_m_bot_refuses_a_weak_key_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET", "WEBHOOK"))}
    env |= {"PYTHONPATH": str(ROOT), "BOT_TOKEN": "1:x", "STAFF_CHAT_ID": "-100"}
    env["SECRET_KEY"] = "x" * 40
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "Setting SECRET_KEY is too weak (repeated characters): generate one with "
        'python -c "import secrets; print(secrets.token_urlsafe(48))"'
    )


async def test_a_new_key_without_the_old_one_loses_links_but_stalls_nothing(
    botapi: BotApi, database_url: str
) -> None:
    """The old key lost: flows in progress are dropped at start, an answer to an old case
    is given up with a word to the staff (not tried forever), a broadcast skips the
    subscribers it cannot reach."""
    h = bot(botapi, database_url, OLD_KEY)
    await h.start()
    code = await report(h.person(ANSWERED))
    await h.person(SUBSCRIBER).send("/subscribe")
    in_a_flow = h.person(IN_A_FLOW)
    await in_a_flow.send("/start")
    await tap_all(in_a_flow, REPORT[:5])
    await h.until(h.outbox_empty)
    await h.stop()

    h = bot(botapi, database_url, NEW_KEY)
    await h.start()
    try:
        await h.person(IN_A_FLOW).tap("30–59")
        assert h.person(IN_A_FLOW).text.startswith("This screen has expired.")
        await answer(h, code, "Are you there?")
        admin = h.volunteer(ADMIN_ID, "Admin")
        assert admin.staff_messages()[-1]["text"] == (
            f"{code}: This person cannot be answered: their address was encrypted with a key "
            "the bot no longer has (SECRET_KEY was changed without SECRET_KEYS_OLD)."
        )
        await broadcast(h, "Know your rights: call 111.")
        assert not received(botapi, SUBSCRIBER, "Know your rights: call 111.")
    finally:
        await h.stop()
