"""`python -m bot backup FILE` and `restore FILE`.

SQLite: sqlite3's online backup API, a consistent copy even while the bot writes (WAL mode).
PostgreSQL: pg_dump and pg_restore do this properly; the exact command is printed, and run
when the tool is installed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.settings import Settings
from bot.startup import SetupProblem


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise SetupProblem("DATABASE_URL names no SQLite file to copy")
    return Path(url.database)


def _copy(source: Path, target: Path) -> None:
    """sqlite3's backup API, page by page, under the database's own locks."""
    origin, copy = sqlite3.connect(source), sqlite3.connect(target, timeout=1)
    try:
        origin.backup(copy)
    finally:
        copy.close()
        origin.close()


def _nobody_uses(target: Path) -> bool:
    """Whether the database is free to overwrite: a bot writing now holds the lock (an idle
    one cannot be seen: the operator stops the bot first, as docs/operations.md says)."""
    if not target.exists():
        for suffix in ("-wal", "-shm"):  # a lost database's journal must not replay into the copy
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        return True
    db = sqlite3.connect(target, timeout=1)
    try:
        db.execute("BEGIN EXCLUSIVE")
        db.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


def _pg_command(tool: str, url: URL, file: Path) -> list[str]:
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    if tool == "pg_dump":
        return ["pg_dump", "--format=custom", f"--file={file}", f"--dbname={plain}"]
    return ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={plain}", str(file)]


def _postgres(tool: str, url: URL, file: Path) -> int:
    command = _pg_command(tool, url, file)
    masked = url.set(password="***") if url.password else url
    shown = " ".join(_pg_command(tool, masked, file))
    if shutil.which(tool) is None:
        print(f"{tool} is not installed here; on a machine that has it, run:\n  {shown}")
        return 1
    print(f"running: {shown}")
    return subprocess.run(command, check=False).returncode


def backup(settings: Settings, file: Path) -> int:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        return _postgres("pg_dump", url, file)
    source = _sqlite_file(url)
    if not source.exists():
        raise SetupProblem(f"DATABASE_URL: there is no SQLite file at {source} to back up")
    file.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, file)
    os.chmod(file, 0o600)  # encrypted addresses and case facts: for the operator only
    print(f"backup: {source} copied to {file}")
    return 0


def restore(settings: Settings, file: Path) -> int:
    url = make_url(settings.database_url)
    if not file.is_file():
        raise SetupProblem(f"restore: there is no file {file}")
    if url.get_backend_name() == "postgresql":
        return _postgres("pg_restore", url, file)
    target = _sqlite_file(url)
    if not _nobody_uses(target):
        print(f"restore: {target} is in use: stop the bot first", file=sys.stderr)
        return 1
    _copy(file, target)
    os.chmod(target, 0o600)
    print(f"restore: {file} copied to {target}; start the bot (it migrates the copy if needed)")
    return 0
