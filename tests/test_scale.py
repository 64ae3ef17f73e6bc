"""Years of data: stored daily numbers, the streamed export, incremental retention."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

from sqlalchemy import func, select, update

from bot.services.retention import erase_expired
from bot.services.stats import packed_for_upload
from models import Case, CaseDay, OutboxMessage
from tests.conftest import ADMIN_ID
from tests.flows import cases, report
from tests.harness import Harness


async def run_daily_job(harness: Harness) -> None:
    assert harness.app is not None and harness.app.job_queue is not None
    [job] = [j for j in harness.app.job_queue.jobs() if j.name == "retention"]
    await job.run(harness.app)


async def stats_text(harness: Harness, days: int) -> str:
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send(f"/stats {days}")
    texts: list[str] = [m.get("text", "") for m in admin.bot_messages()]
    return [t for t in texts if t.startswith("Cases in the last")][-1]


async def test_stats_from_stored_days_match_live_and_a_late_rating_counts(
    harness: Harness,
) -> None:
    for n in range(3):
        await report(harness.person(800 + n))
    assert harness.app is not None
    services = harness.app.services
    five_days_ago = datetime.now(UTC) - timedelta(days=5)
    async with services.sessions.begin() as session:
        await session.execute(
            update(Case).values(
                created_at=five_days_ago,
                taken_at=five_days_ago + timedelta(minutes=7),
                status="closed",
                closed_at=five_days_ago + timedelta(hours=1),
            )
        )
    live = await stats_text(harness, 7)
    assert "Cases in the last 7 days: 3" in live and "Median time to take: 7 min" in live
    await run_daily_job(harness)
    async with services.sessions() as session:
        assert (await session.scalar(select(func.count()).select_from(CaseDay)) or 0) >= 1
    assert await stats_text(harness, 7) == live  # the same numbers, from the stored day
    first = (await cases(harness))[0]
    assert first.person is not None
    assert await services.casework.rate(first.person, first.code, 5)
    assert "Rating: 5.0 of 5 (1 answers)" in await stats_text(harness, 7)


def read_xlsx(data: bytes) -> dict[str, list[list[object]]]:
    """Each sheet's rows as a reader sees them (ECMA-376 SpreadsheetML): every part well-formed
    and declared; shared and inline strings, numbers, and dates (a number in a date style)."""
    book = zipfile.ZipFile(io.BytesIO(data))
    parts = {name: ElementTree.fromstring(book.read(name)) for name in book.namelist()}
    declared = {
        o.get("PartName") for o in parts["[Content_Types].xml"] if o.tag.endswith("Override")
    }
    assert {f"/{name}" for name in parts if not name.endswith(".rels")} - declared == {
        "/[Content_Types].xml"
    }
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    strings = [
        "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
        for si in parts.get("xl/sharedStrings.xml", ElementTree.Element("sst"))
    ]
    styles = parts["xl/styles.xml"]
    formats = {f.get("numFmtId"): f.get("formatCode") for f in styles.iterfind(".//m:numFmt", ns)}
    dated = [
        "yy" in (formats.get(xf.get("numFmtId") or "0") or "")
        for xf in styles.iterfind("m:cellXfs/m:xf", ns)
    ]
    rels = {r.get("Id"): r.get("Target") for r in parts["xl/_rels/workbook.xml.rels"]}
    sheets: dict[str, list[list[object]]] = {}
    for sheet in parts["xl/workbook.xml"].iterfind("m:sheets/m:sheet", ns):
        rid = sheet.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        rows = sheets.setdefault(sheet.get("name") or "", [])
        for row in parts[f"xl/{rels[rid]}"].iterfind("m:sheetData/m:row", ns):
            values: list[object] = []
            for c in row.iterfind("m:c", ns):
                v, kind = c.findtext("m:v", None, ns), c.get("t", "n")
                if kind == "s":
                    values.append(strings[int(v or "")])
                elif kind == "inlineStr":
                    values.append("".join(t.text or "" for t in c.iterfind("m:is/m:t", ns)))
                elif v is None:
                    values.append(None)
                elif dated[int(c.get("s", "0"))]:
                    values.append(datetime(1899, 12, 30, tzinfo=UTC) + timedelta(days=float(v)))
                else:
                    values.append(float(v) if "." in v or "E" in v else int(v))
            rows.append(values)
    return sheets


async def test_export_xlsx_has_typed_cases_and_a_sheet_of_totals(harness: Harness) -> None:
    started = datetime.now(UTC)
    code = await report(harness.person(810), description="He hit me")
    description = "=HYPERLINK(\"x\") <b> & 'quoted'"
    await report(harness.person(811), description=description)
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/export 30 xlsx")
    await admin.send("/export 30 xlsx text")
    plain, with_text = [c for c in harness.api.calls if c.method == "sendDocument"]
    assert plain.params["document"][:2] == b"PK"  # a zip: the .xlsx
    sheets = read_xlsx(plain.params["document"])
    header, first, _ = sheets["cases"]
    assert header[:3] == ["code", "created_at", "kind"] and "description" not in header
    assert not [v for r in sheets["cases"] for v in r if "hit me" in str(v)]
    row = dict(zip(header, first, strict=True))
    assert row["code"] == code and row["kind"] == "report"
    created = row["created_at"]
    assert isinstance(created, datetime)  # a date, typed, not text
    assert started - timedelta(seconds=1) <= created <= datetime.now(UTC)
    assert row["urgent"] in (0, 1) and row["escalations"] == 0  # numbers, not text
    assert row["closed_at"] is None
    totals = {(what, value): n for what, value, n in sheets["totals"][1:]}
    assert totals[("total", "")] == 2 and totals[("kind", "report")] == 2
    assert totals[("status", "open")] == 2
    assert ("median_minutes_to_take", "") in totals
    cases = read_xlsx(with_text.params["document"])["cases"]
    assert [r[-1] for r in cases] == ["description", "He hit me", description]


async def test_retention_erases_only_what_newly_expired_and_prunes_sent_rows(
    harness: Harness,
) -> None:
    await report(harness.person(820), description="old story")
    await report(harness.person(821), description="recent story")
    assert harness.app is not None
    services = harness.app.services
    await harness.until(harness.outbox_empty)  # every row sent
    long_ago = datetime.now(UTC) - timedelta(days=91)
    async with services.sessions.begin() as session:
        await session.execute(update(Case).values(status="closed", closed_at=long_ago))
        await session.execute(update(Case).where(Case.id == 2).values(closed_at=datetime.now(UTC)))
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sent")
            .values(due_at=long_ago, sent_at=long_ago)
        )
    await run_daily_job(harness)
    old, recent = await cases(harness)
    assert old.description is None and old.erased_at is not None
    assert recent.description == "recent story" and recent.erased_at is None
    async with services.sessions() as session:
        sent = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        )
    assert sent == 0
    again = await erase_expired(services.sessions, services.settings.retention_days)
    assert again.cases == 0  # nothing newly expired: nothing touched


def test_a_large_export_goes_out_zipped_and_whole(tmp_path: Path) -> None:
    """A year at national scale is tens of MB: zipped above the limit, every byte kept."""
    path = tmp_path / "cases.csv"
    rows = "".join(f"{n},2026-01-01,report,violence,open\n" for n in range(200_000))
    path.write_text(rows, encoding="utf-8")
    small = tmp_path / "small.csv"
    small.write_text("code\n", encoding="utf-8")
    assert packed_for_upload(small) == small  # small files go as they are
    packed = packed_for_upload(path, above=1024 * 1024)
    assert packed.name == "cases.csv.zip" and not path.exists()
    assert packed.stat().st_size < len(rows) / 5
    with zipfile.ZipFile(packed) as zf:
        assert zf.namelist() == ["cases.csv"]
        assert zf.read("cases.csv").decode() == rows
