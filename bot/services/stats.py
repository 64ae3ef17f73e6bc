"""Numbers for admins and coordinators, and the anonymised export (docs/overview.md).

Years of cases are not read one by one: the numbers of each finished day (no case of it still
open) are kept in `case_days`; /stats adds those up and reads live only the days that are
not summarised yet (today, yesterday, a day with a case still open). Medians come from
counts of the minutes (SQL has no median common to SQLite and PostgreSQL, and a median
cannot be added up day by day): minutes are kept to two significant figures (0.1 min under
10 minutes, 1 min under 100, …), which is what a person reading /stats can use.

The export streams rows from the database to a file (CSV or .xlsx) in batches: memory stays
flat whatever the period.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import upsert
from bot.services.staff import audit
from models import Case, CaseDay

# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP):
# =HYPERLINK(...) in a description would run when staff open the export.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """A text cell a spreadsheet shows as text: a leading ' stops formulas. Numbers (ours,
    never the person's) stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


EXPORT_COLUMNS = [
    "code",
    "created_at",
    "kind",
    "category",
    "subcategory",
    "affected",
    "age_band",
    "region",
    "urgent",
    "locale",
    "may_answer",
    "status",
    "closed_at",
    "closed_by",
    "outcome",
    "rating",
    "minutes_to_take",
    "minutes_to_first_answer",
    "escalations",
]
# The export's columns as they are read (the minutes are worked out from two times).
EXPORT_FIELDS = [
    {"minutes_to_take": "taken_at", "minutes_to_first_answer": "first_answer_at"}.get(c, c)
    for c in EXPORT_COLUMNS
]
_CREATED, _URGENT, _MAY_ANSWER, _TAKEN, _ANSWERED = (
    EXPORT_FIELDS.index(name)
    for name in ("created_at", "urgent", "may_answer", "taken_at", "first_answer_at")
)


async def forget_day(session: AsyncSession, created_at: datetime) -> None:
    """A stored day's numbers changed (a late rating): read it live until stored again."""
    await session.execute(delete(CaseDay).where(CaseDay.day == day_key(created_at)))


# What the numbers need of a case (not the whole row).
STAT_COLUMNS = (
    Case.kind,
    Case.category,
    Case.region,
    Case.status,
    Case.rating,
    Case.created_at,
    Case.taken_at,
    Case.first_answer_at,
)
EXPORT_BATCH = 5000
TALLIED = ("kind", "category", "region", "status", "rating", "take", "answer")
MEDIANS = (("take", "median_minutes_to_take"), ("answer", "median_minutes_to_first_answer"))


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() / 60, 1) if end else None


def _rounded(minutes: float) -> float:
    """Two significant figures (one decimal under 10 minutes)."""
    for limit, digits in ((10, 1), (100, 0), (1000, -1), (10000, -2)):
        if minutes < limit:
            return round(minutes, digits)
    return round(minutes, -3)


def day_key(at: datetime) -> str:
    """The UTC day a case belongs to, as stored in case_days."""
    return at.astimezone(UTC).date().isoformat()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _median(histogram: Counter[str]) -> float | None:
    count = sum(histogram.values())
    if not count:
        return None
    ordered = sorted(histogram.items(), key=lambda item: float(item[0]))

    def nth(i: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if i < seen:
                return float(value)
        raise AssertionError("i < count")

    return round((nth((count - 1) // 2) + nth(count // 2)) / 2, 2)


@dataclass
class Tally:
    """The numbers of some cases; tallies add up (a day's is stored as JSON)."""

    parts: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in TALLIED})

    def add(self, row: Any) -> None:
        p = self.parts
        p["kind"][row.kind] += 1
        p["category"][f"{row.kind}/{row.category}"] += 1
        p["region"][row.region] += 1
        p["status"][row.status] += 1
        if row.rating:
            p["rating"][str(row.rating)] += 1
        for name, end in (("take", row.taken_at), ("answer", row.first_answer_at)):
            if (minutes := _minutes(row.created_at, end)) is not None:
                p[name][str(_rounded(minutes))] += 1

    def merge(self, stored: str) -> None:
        for name, counts in json.loads(stored).items():
            self.parts[name].update(counts)

    def to_json(self) -> str:
        return json.dumps({k: dict(v) for k, v in self.parts.items() if v})


@dataclass
class Report:
    days: int
    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_category: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_region: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    ratings: Counter[int] = field(default_factory=Counter)
    median_take: float | None = None
    median_answer: float | None = None

    @property
    def average_rating(self) -> float | None:
        count = sum(self.ratings.values())
        return sum(r * n for r, n in self.ratings.items()) / count if count else None

    @classmethod
    def of(cls, days: int, tally: Tally) -> Report:
        p = tally.parts
        return cls(
            days=days,
            total=sum(p["kind"].values()),
            by_kind=p["kind"],
            by_category=Counter(
                {tuple(k.split("/", 1)): n for k, n in p["category"].items()}  # type: ignore[misc]
            ),
            by_region=p["region"],
            by_status=p["status"],
            ratings=Counter({int(k): n for k, n in p["rating"].items()}),
            median_take=_median(p["take"]),
            median_answer=_median(p["answer"]),
        )


def live_ranges(
    since: datetime, now: datetime, summarised: Iterable[str]
) -> list[tuple[datetime, datetime | None]]:
    """The spans of [since, …) whose cases are not in a stored day: read them live."""
    stored = set(summarised)
    ranges: list[tuple[datetime, datetime | None]] = []
    start, day = since, since.date() + timedelta(days=1)
    while day <= now.date():
        if day.isoformat() in stored:
            if start < _midnight(day):
                ranges.append((start, _midnight(day)))
            start = _midnight(day + timedelta(days=1))
        day += timedelta(days=1)
    ranges.append((start, None))
    return ranges


def _within(ranges: Sequence[tuple[datetime, datetime | None]]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(Case.created_at >= a, Case.created_at < b) if b else Case.created_at >= a
            for a, b in ranges
        )
    )


def export_values(c: Any, with_text: bool) -> list[Any]:
    """One case (a row of EXPORT_FIELDS, then the description when asked) as typed values
    (dates, numbers): the CSV and the .xlsx are written from it. By position: a year of a
    million cases is 330,000 rows."""
    values = list(c)
    values[_URGENT], values[_MAY_ANSWER] = int(values[_URGENT]), int(values[_MAY_ANSWER])
    created = values[_CREATED]
    values[_TAKEN] = _minutes(created, values[_TAKEN])
    values[_ANSWERED] = _minutes(created, values[_ANSWERED])
    return values


def csv_row(values: list[Any]) -> list[Any]:
    """A row as written in CSV cells (the one place that says how)."""
    return [
        "" if v is None else v.isoformat(timespec="minutes") if isinstance(v, datetime) else cell(v)
        for v in values
    ]


# A year of a million cases is a CSV of about 45 MB: near the 50 MB a bot may upload, and the
# upload holds the whole file in memory. Above this size it goes out zipped (a tenth of it).
ZIP_ABOVE_BYTES = 20 * 1024 * 1024


def packed_for_upload(path: Path, above: int = ZIP_ABOVE_BYTES) -> Path:
    """`path` itself when it is small, else a .zip beside it holding it (streamed from disk to
    disk in chunks; the original is removed). .xlsx files are zipped already."""
    if path.suffix == ".xlsx" or path.stat().st_size <= above:
        return path
    packed = path.with_name(path.name + ".zip")
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.write(path, arcname=path.name)
    path.unlink()
    return packed


class CsvFile:
    def __init__(self, path: Path, header: list[str]) -> None:
        self._file = path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(header)

    def rows(self, rows: Iterable[list[Any]]) -> None:
        self._writer.writerows(csv_row(row) for row in rows)
        self._file.flush()

    def close(self, tally: Tally) -> None:
        self._file.close()


# The .xlsx is written here rather than with XlsxWriter: XlsxWriter spends about 90 µs a row
# on this sheet in pure Python (a cell object, a chain of calls, then its XML), 30 s for a
# year of a million cases, and no well-kept library streams rows much faster. The parts are
# the least a workbook needs (ECMA-376 part 1, SpreadsheetML): content types, relationships,
# the workbook, styles, shared strings, the sheets. A cell is a number; a date, as a day
# serial in the date style; or a string: shared when it repeats (kinds, regions: the table
# holds at most _SHARED of them, so memory stays flat), inline otherwise (codes, free text).
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_SHEETS = ("cases", "totals")
_PARTS = [  # part, content type, relationship type from the workbook
    *((f"worksheets/sheet{i}.xml", "worksheet", "worksheet") for i in (1, 2)),
    ("styles.xml", "styles", "styles"),
    ("sharedStrings.xml", "sharedStrings", "sharedStrings"),
]
_STATIC_PARTS = {
    "[Content_Types].xml": _XML
    + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}sheet.main+xml"/>'
    + "".join(
        f'<Override PartName="/xl/{part}" ContentType="{_TYPE}{kind}+xml"/>'
        for part, kind, _ in _PARTS
    )
    + "</Types>",
    "_rels/.rels": _XML + f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
    f'Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": _XML
    + f'<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}"><sheets>'
    + "".join(
        f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(_SHEETS, 1)
    )
    + "</sheets></workbook>",
    "xl/_rels/workbook.xml.rels": _XML
    + f'<Relationships xmlns="{_RELS}">'
    + "".join(
        f'<Relationship Id="rId{i}" Type="{_OFFICE}/{rel}" Target="{part}"/>'
        for i, (part, _, rel) in enumerate(_PARTS, 1)
    )
    + "</Relationships>",
    # Style 1: a date and time (the only style the sheets use).
    "xl/styles.xml": _XML + f'<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>",
}
_SHEET_START = _XML + f'<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"
# A date is a count of days from 1899-12-30 (Excel's day 0): 1970-01-01 is day 25569.
_UNIX_DAY_0 = 25569.0
# Characters XML 1.0 cannot hold at all (dropped), and the three it must escape.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SHARED = 4096  # values whose cell XML is kept (and strings shared); a few hundred repeat


def _xml_text(text: str) -> str:
    return f'<t xml:space="preserve">{_NOT_XML.sub("", text).translate(_ESCAPE)}</t>'


class _XlsxRows:
    """Rows as sheet XML. A year of a million cases is 330,000 rows of 19 cells: each cell
    is one pass of the loop in __call__; the XML of a value seen before is looked up."""

    def __init__(self) -> None:
        self._cells: dict[object, str] = {None: "<c/>"}
        self.strings: list[str] = []  # the shared strings, by index

    def _cell(self, value: object) -> str:
        shared = len(self._cells) < _SHARED
        if isinstance(value, str):
            if not shared:
                return f'<c t="inlineStr"><is>{_xml_text(value)}</is></c>'
            self.strings.append(value)
            xml = f'<c t="s"><v>{len(self.strings) - 1}</v></c>'
        elif isinstance(value, int | float):
            # 44 and 44.0 are one key, so one XML: a whole number is written as an integer.
            whole = isinstance(value, bool) or (isinstance(value, float) and value.is_integer())
            number = int(value) if whole else value
            xml = f"<c><v>{number!r}</v></c>"
        else:
            raise TypeError(f"no .xlsx cell for {type(value).__name__}")
        if shared:
            self._cells[value] = xml
        return xml

    def __call__(self, rows: Iterable[Sequence[object]]) -> bytes:
        cells, out = self._cells, list[str]()
        add = out.append
        for row in rows:
            add("<row>")
            for value in row:
                if type(value) is datetime:
                    if value.tzinfo is None:
                        value = value.replace(tzinfo=UTC)
                    add(f'<c s="1"><v>{value.timestamp() / 86400 + _UNIX_DAY_0!r}</v></c>')
                else:
                    add(cells.get(value) or self._cell(value))
            add("</row>")
        return "".join(out).encode()


class XlsxFile:
    """A sheet of cases (typed dates and numbers) and a sheet of totals, each row written
    out as it comes (deflated at level 1: the file is sent at once, CPU is what it costs)."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        for name, text in _STATIC_PARTS.items():
            self._zip.writestr(name, text)
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._xml = _XlsxRows()
        self._sheet.write(_SHEET_START.encode() + self._xml([header]))

    def rows(self, rows: Iterable[list[Any]]) -> None:
        self._sheet.write(self._xml(rows))

    def close(self, tally: Tally) -> None:
        self._sheet.write(_SHEET_END.encode())
        self._sheet.close()
        lines: list[list[object]] = [["what", "value", "cases"]]
        lines.append(["total", "", sum(tally.parts["kind"].values())])
        for name, counts in tally.parts.items():
            if name not in dict(MEDIANS):
                lines += ([name, value, n] for value, n in sorted(counts.items()))
        lines += ([title, "", _median(tally.parts[name])] for name, title in MEDIANS)
        totals = self._xml(lines).decode()
        self._zip.writestr("xl/worksheets/sheet2.xml", _SHEET_START + totals + _SHEET_END)
        strings = "".join(f"<si>{_xml_text(s)}</si>" for s in self._xml.strings)
        self._zip.writestr(
            "xl/sharedStrings.xml",
            f'{_XML}<sst xmlns="{_MAIN}" uniqueCount="{len(self._xml.strings)}">{strings}</sst>',
        )
        self._zip.close()


class Stats:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def report(self, days: int, now: datetime | None = None) -> Report:
        now = now or datetime.now(UTC)
        async with self._sessions() as session:
            return Report.of(days, await self._tally(session, now - timedelta(days=days), now))

    async def _tally(self, session: AsyncSession, since: datetime, now: datetime) -> Tally:
        """The numbers of the cases created since `since`: the stored days added up, the
        rest read live."""
        tally = Tally()
        stored = (
            await session.execute(
                select(CaseDay.day, CaseDay.counts).where(CaseDay.day > since.date().isoformat())
            )
        ).all()
        for _day, counts in stored:
            tally.merge(counts)
        ranges = live_ranges(since, now, (day for day, _ in stored))
        for row in await session.execute(select(*STAT_COLUMNS).where(_within(ranges))):
            tally.add(row)
        return tally

    async def summarise(self, now: datetime | None = None) -> int:
        """Store the numbers of every finished day not stored yet whose cases are all
        closed (a day ends for good the day after: a case written at midnight commits a
        moment later). Returns how many days were stored."""
        last = (now or datetime.now(UTC)).date() - timedelta(days=2)
        async with self._sessions() as session:
            first = await session.scalar(select(func.min(Case.created_at)))
            done = set(await session.scalars(select(CaseDay.day)))
            opened = await session.scalars(select(Case.created_at).where(Case.status == "open"))
            done |= {day_key(at) for at in opened}
        if first is None:
            return 0
        day, stored = first.date(), 0
        while day <= last:
            if day.isoformat() not in done:
                await self._summarise_day(day)
                stored += 1
            day += timedelta(days=1)
        return stored

    async def _summarise_day(self, day: date) -> None:
        tally = Tally()
        start = _midnight(day)
        async with self._sessions.begin() as session:
            rows = await session.execute(
                select(*STAT_COLUMNS).where(
                    Case.created_at >= start, Case.created_at < start + timedelta(days=1)
                )
            )
            for row in rows:
                tally.add(row)
            dialect = session.get_bind().dialect.name
            table = CaseDay.__table__
            await session.execute(
                upsert(dialect, table, {"day": day.isoformat(), "counts": tally.to_json()})  # type: ignore[arg-type]
            )

    async def opened(self) -> int:
        """Cases opened, all time (cases are never deleted: the highest id, read from the
        index, not a count of the table)."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.max(Case.id))) or 0)

    async def export_to(
        self,
        path: Path,
        days: int,
        staff_id: int,
        *,
        kind: str = "csv",
        with_text: bool = False,
        on_first_bytes: Callable[[], None] | None = None,
    ) -> int:
        """Write the cases of the last `days` days to `path`, anonymised: no pseudonym, no
        reply address; free text only when asked and allowed. Returns how many rows."""
        now = datetime.now(UTC)
        since = now - timedelta(days=days)
        header = EXPORT_COLUMNS + (["description"] if with_text else [])
        out = XlsxFile(path, header) if kind == "xlsx" else CsvFile(path, header)
        tally, count = Tally(), 0
        columns = [getattr(Case, name) for name in EXPORT_FIELDS]
        columns += [Case.description] if with_text else []
        query = select(*columns).where(Case.created_at >= since).order_by(Case.created_at)
        async with self._sessions() as session:
            if kind == "xlsx":  # its sheet of totals: what /stats counts, from the stored days
                tally = await self._tally(session, since, now)
            connection = await session.connection()
            result = await connection.stream(query.execution_options(yield_per=EXPORT_BATCH))
            async for batch in result.partitions():
                out.rows(export_values(c, with_text) for c in batch)
                if count == 0 and on_first_bytes is not None:
                    on_first_bytes()
                count += len(batch)
        out.close(tally)
        async with self._sessions.begin() as session:
            audit(session, staff_id, "export", detail=f"{days}d{' text' if with_text else ''}")
        return count
