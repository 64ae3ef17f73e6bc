"""The SQLite database and its WAL are the service user's only; an export opened in a
spreadsheet runs no formula a person wrote (issue 15)."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

from tests.botapi import BotApi
from tests.conftest import ADMIN_ID, make_settings
from tests.flows import report
from tests.harness import Harness


async def test_sqlite_file_and_wal_are_readable_by_the_service_user_only(
    botapi: BotApi, tmp_path: Path
) -> None:
    path = tmp_path / "data" / "helpline.db"
    path.parent.mkdir()  # the operator makes the folder; a missing one is a setup error
    old = os.umask(0o022)  # the usual umask: files readable by everyone
    try:
        h = Harness(botapi, make_settings(botapi, f"sqlite+aiosqlite:///{path}"))
        await h.start()
        try:
            await report(h.person(1501))
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        finally:
            await h.stop()
    finally:
        os.umask(old)
    assert {"helpline.db", "helpline.db-wal", "helpline.db-shm"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)


async def test_a_database_made_before_is_tightened_at_start(botapi: BotApi, tmp_path: Path) -> None:
    path = tmp_path / "helpline.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    h = Harness(botapi, make_settings(botapi, f"sqlite+aiosqlite:///{path}"))
    await h.start()
    await h.stop()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_export_neutralises_spreadsheet_formulas(harness: Harness) -> None:
    formulas = [
        '=HYPERLINK(A2&B2,"Open")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@(1+2)",  # "@SUM" would be scrubbed as a handle before it is stored
    ]
    for n, text in enumerate(formulas):
        await report(harness.person(1510 + n), description=text)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/export 30 text")
    [document] = [c for c in harness.api.calls if c.method == "sendDocument"]
    rows = list(csv.DictReader(io.StringIO(document.params["document"].decode("utf-8-sig"))))
    descriptions = sorted(r["description"] for r in rows)
    assert descriptions == sorted("'" + text for text in formulas)
    assert all(r["code"][0] not in "=+-@" for r in rows)
