"""Settings: names as in docs/operations.md, one clear line per bad setting, never a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings
from tests.botapi import BotApi
from tests.processes import polling_bot

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {
    "BOT_TOKEN": "1:x",
    "SECRET_KEY": "Qorgau-settings-key-4Tz8Wq1Lp6Nv3Xc9Rb2Hm7",
    "STAFF_CHAT_ID": "-100",
}


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED and not k.startswith("WEBHOOK")}
    env.update(values)
    return env


def test_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(_env_file=None)
    assert settings.telegram_api_url == "https://api.telegram.org/bot"
    assert settings.database_url == "sqlite+aiosqlite:///helpline.db"
    assert settings.admin_ids == []
    assert settings.default_locale == "ru"
    assert settings.broadcast_rate == 25
    assert settings.escalate_after_minutes == 15
    assert settings.retention_days == 90
    assert settings.webhook_url is None


def test_admin_ids_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADMIN_IDS", "11, 22,33")
    assert load_settings(_env_file=None).admin_ids == [11, 22, 33]


def test_every_bad_setting_is_named_on_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*REQUIRED, "ADMIN_IDS", "DEFAULT_LOCALE"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ADMIN_IDS", "12,abc")
    monkeypatch.setenv("DEFAULT_LOCALE", "de")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    lines = caught.value.lines
    assert "BOT_TOKEN is missing" in lines
    assert "SECRET_KEY is missing" in lines
    assert "STAFF_CHAT_ID is missing" in lines
    assert any(line.startswith("ADMIN_IDS is malformed") for line in lines)
    assert any(line.startswith("DEFAULT_LOCALE is malformed") for line in lines)
    assert len(lines) == 5


def test_env_example_documents_every_setting() -> None:
    from bot.settings import Settings

    example = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in example, f".env.example does not document {name.upper()}"


def test_run_without_env_stops_with_clear_lines_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env here
        env=clean_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[:3] == [
        "Setting BOT_TOKEN is missing",
        "Setting SECRET_KEY is missing",
        "Setting STAFF_CHAT_ID is missing",
    ]
    assert ".env.example" in lines[-1]


async def test_python_m_bot_polls_and_stops_cleanly_on_sigterm(
    botapi: BotApi, tmp_path: Path
) -> None:
    env = clean_env(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=botapi.token,
        TELEGRAM_API_URL=botapi.url,
        SECRET_KEY="Qorgau-settings-key-4Tz8Wq1Lp6Nv3Xc9Rb2Hm7",
        STAFF_CHAT_ID="-100",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    async with polling_bot(sys.executable, botapi, tmp_path, env) as output:
        pass  # the bot polls: processes.polling_bot waited for its first getUpdates
    stderr = output.stderr
    assert botapi.token not in stderr, "the bot token reached the log"
    assert (tmp_path / "bot.db").exists(), "migrations did not run on start"


def test_the_shipped_env_example_keeps_the_database_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Docker runs the bot in its /data volume with `--env-file .env`: the example's
    DATABASE_URL must not point elsewhere (an empty value is the default, a relative path)."""
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings(_env_file=str(ROOT / ".env.example"))
    assert settings.database_url == "sqlite+aiosqlite:///helpline.db"
    assert settings.webhook_url is None
