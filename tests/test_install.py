"""A normal (non-editable) `pip install .` runs the bot from any directory: the catalogues,
the help numbers and the migrations travel with the code as package data."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.botapi import BotApi, User
from tests.conftest import STAFF_CHAT_ID
from tests.processes import polling_bot

ROOT = Path(__file__).resolve().parent.parent


def tracked_copy(target: Path) -> Path:
    """The repository's tracked files only, as a clean clone has them (pip builds in place)."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    return target


def installed(venv: Path, source: Path) -> Path:
    """A fresh venv with only the project installed in it; its dependencies (and pip and
    setuptools) are borrowed from this one by a .pth file, so nothing is downloaded."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         str(source)],
        check=True, capture_output=True, cwd=venv,
    )  # fmt: skip
    return python


async def test_an_installed_bot_answers_start_in_kazakh_from_any_directory(
    botapi: BotApi, tmp_path: Path
) -> None:
    source = tracked_copy(tmp_path / "source")
    python = await asyncio.to_thread(installed, tmp_path / "venv", source)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "BOT_TOKEN": botapi.token,
        "TELEGRAM_API_URL": botapi.url,
        "SECRET_KEY": "Qorgau-cli-key-9Rf3Tb6Yw2Mq8Zx1Lc4Vn7Hs5",
        "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
        "ADMIN_IDS": "900001",
        "DATABASE_URL": f"sqlite+aiosqlite:///{elsewhere / 'bot.db'}",
    }
    async with polling_bot(str(python), botapi, elsewhere, env):
        person = User(4242, language_code="kk")
        await botapi.send(person, "/start")
        call = await botapi.wait_for(
            lambda c: c.method == "sendMessage" and c.params.get("chat_id") == person.id
        )
        assert str(call.params["text"]).startswith("Сізге немесе басқа біреуге қазір қауіп төнсе")
    modules = await asyncio.to_thread(
        subprocess.run,
        [str(python), "-c", "import bot, locales; print(bot.__file__, locales.__file__)"],
        capture_output=True, text=True, check=True, cwd=elsewhere,
    )  # fmt: skip
    assert str(ROOT) not in modules.stdout, "the bot ran from the repository, not the install"
