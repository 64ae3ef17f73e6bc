"""The command line as an operator meets it: `python -m bot …` in a process of its own,
against the Bot API stand-in or bad settings. A setting that cannot work is one line and
exit code 2; the token never appears in what the bot prints."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.botapi import BOT_ID, BOT_USER, BotApi, admin_member
from tests.conftest import STAFF_CHAT_ID

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-TOKEN"


def bot_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.isupper()
        and not k.startswith(
            ("BOT_", "SECRET_", "STAFF_", "WEBHOOK", "DATABASE_", "TELEGRAM_", "ADMIN_")
        )
    }
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=TOKEN,
        SECRET_KEY="Qorgau-cli-key-9Rf3Tb6Yw2Mq8Zx1Lc4Vn7Hs5",
        STAFF_CHAT_ID=str(STAFF_CHAT_ID),
        ADMIN_IDS="900001",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        TELEGRAM_API_URL="http://127.0.0.1:9/bot",
    )
    env.update(values)
    return env


async def run_bot(tmp_path: Path, *args: str, **values: str) -> tuple[int, str]:
    """Exit code and everything printed (stdout and stderr together)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=tmp_path, env=bot_env(tmp_path, **values),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode is not None
    return process.returncode, output.decode()


def assert_one_line(code: int, output: str, *words: str) -> None:
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    for word in words:
        assert word in lines[0], output
    assert "TEST-TOKEN" not in output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "malformed"),
        ("mysql+nodriver://u@h/db", "driver 'mysql+nodriver'"),
        ("sqlite:///plain.db", "driver 'sqlite'"),
        ("sqlite+aiosqlite:////no/such/folder/bot.db", "cannot open the SQLite file"),
        ("postgresql+asyncpg://qorgau@127.0.0.1:9/qorgau", "cannot use the database"),
    ],
)
async def test_a_bad_database_url_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    code, output = await run_bot(tmp_path, DATABASE_URL=url)
    assert_one_line(code, output, "DATABASE_URL", says)


async def test_a_wrong_token_is_one_line_without_the_token(botapi: BotApi, tmp_path: Path) -> None:
    code, output = await run_bot(
        tmp_path, BOT_TOKEN="123456:TEST-TOKEN-WRONG", TELEGRAM_API_URL=botapi.url
    )
    assert_one_line(code, output, "BOT_TOKEN", "@BotFather")


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"WEBHOOK_URL": "http://help.example.org/tg", "WEBHOOK_SECRET": "s"}, "WEBHOOK_URL"),
        ({"TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL"),
    ],
)
async def test_a_malformed_address_is_one_line(
    tmp_path: Path, values: dict[str, str], setting: str
) -> None:
    code, output = await run_bot(tmp_path, **values)
    assert_one_line(code, output, setting)


async def test_telegram_unreachable_is_said_once_counted_and_ctrl_c_stops_at_once(
    tmp_path: Path,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot",
        cwd=tmp_path, env=bot_env(tmp_path), stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    seen: list[str] = []
    try:
        while not any("try 2 failed" in line for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), 30)
            assert line, "\n".join(seen)
            seen.append(line.decode())
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 3) == 0
    finally:
        if process.returncode is None:
            process.kill()
    seen.append((await process.stderr.read()).decode())
    output = "".join(seen)
    assert output.count("cannot be reached") == 1, output
    assert "127.0.0.1:9" in output and "try 1 failed" in output
    assert "Traceback" not in output and "TEST-TOKEN" not in output


async def test_check_reports_a_good_staff_chat_and_exits_0(botapi: BotApi, tmp_path: Path) -> None:
    code, output = await run_bot(tmp_path, "migrate", TELEGRAM_API_URL=botapi.url)
    assert code == 0, output
    code, output = await run_bot(tmp_path, "check", TELEGRAM_API_URL=botapi.url)
    assert code == 0, output
    assert "telegram: ok, @qorgau_bot" in output
    assert f"staff chat {STAFF_CHAT_ID} Staff (topics off): ok" in output
    assert "TEST-TOKEN" not in output


async def test_check_names_what_the_bot_lacks_in_a_staff_chat(
    botapi: BotApi, tmp_path: Path
) -> None:
    botapi.forums.add(STAFF_CHAT_ID)
    botapi.chat_members[(STAFF_CHAT_ID, BOT_ID)] = admin_member(
        BOT_USER, can_pin_messages=False, can_manage_topics=False
    )
    code, output = await run_bot(tmp_path, "check", TELEGRAM_API_URL=botapi.url, ADMIN_IDS="")
    assert code == 1, output
    assert "ADMIN_IDS is empty" in output
    assert "schema is not at the newest revision" in output  # never migrated
    chat_line = next(line for line in output.splitlines() if line.startswith("staff chat"))
    assert "topics on" in chat_line
    assert "right to pin messages" in chat_line and "right to manage topics" in chat_line
    assert "right to delete" not in chat_line


async def test_check_when_the_bot_is_not_an_admin(botapi: BotApi, tmp_path: Path) -> None:
    botapi.chat_members[(STAFF_CHAT_ID, BOT_ID)] = {"status": "member", "user": BOT_USER}
    code, output = await run_bot(tmp_path, "check", TELEGRAM_API_URL=botapi.url)
    assert code == 1
    assert "the bot is not an administrator here" in output


async def test_backup_and_restore_a_sqlite_database(botapi: BotApi, tmp_path: Path) -> None:
    assert (await run_bot(tmp_path, "migrate"))[0] == 0
    copy = tmp_path / "backups" / "copy.db"
    code, output = await run_bot(tmp_path, "backup", str(copy))
    assert code == 0, output
    assert copy.stat().st_mode & 0o077 == 0, "a backup is for the operator only"
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    (tmp_path / "bot.db").unlink()
    code, output = await run_bot(tmp_path, "restore", str(copy))
    assert code == 0, output
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


async def test_backup_on_postgresql_gives_the_pg_dump_command(tmp_path: Path) -> None:
    code, output = await run_bot(
        tmp_path,
        "backup",
        "q.dump",
        DATABASE_URL="postgresql+asyncpg://qorgau:pw@db.example.org/qorgau",
        PATH="/nonexistent",
    )
    assert code == 1
    assert "pg_dump --format=custom --file=q.dump" in output
    assert "pw" not in output.replace("pg_dump", "")


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    for command in ("run", "check", "migrate", "backup", "restore"):
        assert command in result.stdout


async def test_health_says_whether_the_database_answers(tmp_path: Path) -> None:
    assert (await run_bot(tmp_path, "migrate"))[0] == 0
    assert (await run_bot(tmp_path, "health"))[0] == 0
    gone = "sqlite+aiosqlite:////no/such/folder/bot.db"
    assert (await run_bot(tmp_path, "health", DATABASE_URL=gone))[0] == 1


async def test_alembic_reads_database_url_from_env_like_the_bot(tmp_path: Path) -> None:
    """`alembic upgrade head` run where the bot's .env is migrates the bot's database (it
    used to ignore .env and migrate ./helpline.db)."""
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite+aiosqlite:///{tmp_path / 'bot.db'}\n")
    env = {k: v for k, v in bot_env(tmp_path).items() if k != "DATABASE_URL"}
    alembic = Path(sys.executable).parent / "alembic"
    process = await asyncio.create_subprocess_exec(
        str(alembic), "-c", str(ROOT / "alembic.ini"), "upgrade", "head",
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    assert not (tmp_path / "helpline.db").exists()
