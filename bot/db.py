"""Database engine, sessions and migrations (Alembic owns the schema)."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Executable, Table, bindparam, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Result, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import BindParameter, ColumnElement

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


PRIVATE_FILE = 0o600  # the service user only: the database holds encrypted chats and text


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None: in memory)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_private(path: Path) -> None:
    """Create the SQLite file readable by the service user only, and tighten one made before
    (and its -wal and -shm). SQLite gives the -wal and -shm it creates later the mode of the
    main file, so creating that one 0600 is what keeps them private."""
    if not path.exists():
        if not path.parent.is_dir():
            return  # no folder: opening the database says so, in one line (bot/startup.py)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o777 != PRIVATE_FILE:
                file.chmod(PRIVATE_FILE)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        if (path := sqlite_path(url)) is not None:
            make_private(path)
        # A file never drops a connection: no ping before each use (a round trip per session).
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Last in, first out: the connection used last is used again, with the statements it
    # has prepared (asyncpg prepares per connection). First in, first out sent a quiet
    # bot's work round every connection a busy moment had opened, each preparing the same
    # statements again: 11 % of a relayed answer's statements, a round trip more each.
    engine = create_async_engine(url, pool_size=20, max_overflow=10, pool_use_lifo=True)
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(_dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """A server can restart under us, or end our connections: a pooled connection the server
    closed is replaced before it is handed out (SQLAlchemy's documented way: raising
    DisconnectionError at checkout). SQLAlchemy's own pool_pre_ping asks the server each
    time, and with asyncpg that is three round trips per checkout (begin, a query, a
    rollback), measured at a sixth of a relayed message's database time. A server that
    restarts or ends a connection closes its socket, and asyncpg notices that by itself:
    asking it costs nothing. A connection cut without a word (a network fault) fails its
    first use instead; SQLAlchemy then replaces every connection in the pool, and the
    update or outbox row that failed is tried again."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the server closed this connection")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # A Session class of this maker's own: events listened on it (Outbox.watch) concern
    # this application's sessions only, not another one in the same process (tests).
    own = type("QorgauSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=own)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


# Any fixed numbers: the advisory lock instances take while one of them migrates, and the
# one held by the instance that sends broadcasts.
STARTUP_LOCK = 0x51_6F_72_67  # "Qorg"
BROADCAST_LOCK = STARTUP_LOCK + 1


@asynccontextmanager
async def startup_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Instances starting at the same time take turns (PostgreSQL): the schema is migrated
    and the first rows are written once. SQLite serves one instance: nothing to take."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK})
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK})
            await connection.commit()


@asynccontextmanager
async def if_first(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    """Whether this instance holds the lock `key` for the block, without waiting for it
    (PostgreSQL advisory lock: it goes with the connection, so a dead instance holds
    nothing). SQLite serves one instance: always True."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as connection:
        lock = {"key": key}
        mine = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), lock))
        await connection.commit()
        try:
            yield mine
        finally:
            if mine:
                with contextlib.suppress(Exception):  # a lost connection freed it already
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
                    await connection.commit()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


@dataclass(frozen=True)
class Bound:
    """A statement built once (with bindparams) and the values of one run. Building a
    SQLAlchemy statement and working out its cache key cost more CPU than running it
    (profiled: a third of the sender's own time went to building its UPDATEs); one built
    once is keyed once. For the statements every relayed message runs."""

    statement: Executable
    params: dict[str, Any] | list[dict[str, Any]]  # a list: one row each
    # An INSERT of new rows, or an UPDATE or DELETE of rows it names by key, that reads no
    # row the statements next to it write: on PostgreSQL a run of these is sent as one
    # statement (see `_together`).
    keyed: bool = False


@dataclass(frozen=True)
class Handing(Bound):
    """A built-once INSERT … RETURNING id of a row claimed as it is written: `then` gets
    its id once the transaction has committed (the sender takes the row in memory, no
    claim of its own)."""

    then: Callable[[int], None] = lambda _id: None


Statement = Executable | Bound


async def run_one(target: AsyncConnection | AsyncSession, statement: Statement) -> Result[Any]:
    if isinstance(statement, Bound):
        return await target.execute(statement.statement, statement.params)
    return await target.execute(statement)


async def execute_all(engine: AsyncEngine, *statements: Statement | Announced) -> None:
    """Run statements in one transaction (no ORM session: the cheap way for hot paths);
    an `Announced` one's `then` is called after the commit if it changed rows."""
    ready = _prepared(engine.dialect.name, statements)
    if _alone(engine, ready):
        # (the sender's "sent" of a row, with what sending it changed, goes alone)
        async with _autocommit(engine) as connection:
            announce = await _run(connection, ready)
    else:
        async with engine.begin() as connection:
            announce = await _run(connection, ready)
    for then in announce:
        then()


async def read_alone(engine: AsyncEngine, query: Executable) -> Any:
    """The first column of the first row of one read, as a transaction by itself: for the
    checks that usually find nothing (the minute's sweeps look whether anything is due)."""
    async with _autocommit(engine) as connection:
        return await connection.scalar(query)


@asynccontextmanager
async def _autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose each statement is a transaction by itself: on PostgreSQL no BEGIN
    and COMMIT, one round trip instead of three. (SQLite, where a statement costs no round
    trip, keeps its usual transactions.)"""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def _alone(engine: AsyncEngine, ready: Sequence[Statement | Announced]) -> bool:
    """One statement (its rows in one executemany are one too: asyncpg sends them with one
    Sync, which PostgreSQL runs as one transaction). On SQLite, where a statement costs no
    round trip, transactions stay as they are."""
    if engine.dialect.name != "postgresql" or len(ready) != 1:
        return False
    return not (isinstance(ready[0], Announced) and ready[0].and_run)


async def run_statements(
    connection: AsyncConnection, statements: Sequence[Statement | Announced]
) -> list[Callable[[], None]]:
    """Run statements in the caller's transaction; returns what to call once it commits
    (the `then` of each `Announced` one that changed rows, and of each `Handing` one with
    its row's id)."""
    return await _run(connection, _prepared(connection.dialect.name, statements))


async def run_returning(
    session: AsyncSession,
    insert: Executable,
    values: dict[str, Any],
    with_: Sequence[Statement] = (),
) -> Result[Any]:
    """A built-once INSERT … RETURNING of one new row, and `with_` after it, in the
    caller's transaction: on PostgreSQL the keyed ones of `with_` go in the INSERT's
    statement (see `_together`), one round trip for all. Returns the INSERT's result. The
    session's pending changes are written first, as its own `execute` would (an audit
    entry of the case's taking before the answer's)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    first = Handing(insert, values, keyed=True)  # (a Handing: the main statement)
    result: Result[Any] | None = None
    for statement in _prepared(connection.dialect.name, [first, *with_]):
        assert not isinstance(statement, Announced)  # (none given)
        ran = await run_one(connection, statement)
        if isinstance(statement, Handing):  # main, alone or with others in its WITH
            result = ran
    assert result is not None
    return result


def _prepared(
    dialect: str, statements: Sequence[Statement | Announced]
) -> list[Statement | Announced]:
    merged = _merged(statements)
    return _together(merged) if dialect == "postgresql" else merged


async def _run(
    connection: AsyncConnection, statements: Sequence[Statement | Announced]
) -> list[Callable[[], None]]:
    announce: list[Callable[[], None]] = []
    for statement in statements:
        if isinstance(statement, Handing):
            row_id = int((await run_one(connection, statement)).scalar_one())
            announce.append(functools.partial(statement.then, row_id))
        elif isinstance(statement, Announced):
            if affected(await run_one(connection, statement.statement)):
                for more in statement.and_run:
                    await run_one(connection, more)
                announce.append(statement.then)
        else:
            await run_one(connection, statement)
    return announce


def _merged(statements: Sequence[Statement | Announced]) -> list[Statement | Announced]:
    """Rows for the same built-once statement, one after another, go in one executemany:
    one round trip (the person's message id and the id of the bot's answer to it)."""
    merged: list[Statement | Announced] = []
    for statement in statements:
        last = merged[-1] if merged else None
        if (
            type(statement) is Bound
            and type(last) is Bound
            and last.statement is statement.statement
            and isinstance(last.params, list)
            and isinstance(statement.params, list)
        ):
            rows = [*last.params, *statement.params]
            merged[-1] = Bound(last.statement, rows, keyed=last.keyed and statement.keyed)
        else:
            merged.append(statement)
    return merged


# Parts of a statement run together: one built-once statement and the names of its values.
Part = tuple[Bound, dict[str, Any]]
# Statements built for a run of keyed ones, by what they are made of (see `_together`).
_BUILT: dict[tuple[Any, ...], tuple[Executable, list[Executable]]] = {}


def _together(statements: Sequence[Statement | Announced]) -> list[Statement | Announced]:
    """Keyed statements next to each other are sent as one: all but one as parts of its WITH
    (PostgreSQL's data-modifying WITH). The statement itself is a round trip, and on this
    machine a round trip's socket write and wake-up cost the bot more CPU than the statement
    (profiled: a sixth of a relayed message's CPU went to socket writes). All the parts see
    the database as it was before the statement: what `keyed` promises makes that the same
    as running them one by one. A run stops before a second Handing (one RETURNING), and
    before a second UPDATE or DELETE of the same table (it could name the same row)."""
    out: list[Statement | Announced] = []
    run: list[Part] = []
    for statement in statements:
        parts = _parts(statement)
        if parts is None:
            out.extend(_joined(run))
            run = []
            out.append(statement)
            continue
        for part in parts:
            if not _fits(run, part[0]):
                out.extend(_joined(run))
                run = []
            run.append(part)
    out.extend(_joined(run))
    return out


def _parts(statement: Statement | Announced) -> list[Part] | None:
    """A keyed statement as parts of one row each; None: it runs on its own."""
    if not (isinstance(statement, Bound) and statement.keyed):
        return None
    rows = [statement.params] if isinstance(statement.params, dict) else statement.params
    if len(rows) > 1 and (isinstance(statement, Handing) or _changes(statement) is not None):
        return None
    if not all(_complete(statement.statement, row) for row in rows):
        return None
    return [(statement, row) for row in rows]


def _complete(statement: Executable, row: dict[str, Any]) -> bool:
    """Whether the row gives every column SQLAlchemy would fill in itself (a Python-side
    default; it does not for a statement run with others)."""
    needs = _traits(statement).needs
    return needs is not None and needs <= row.keys()


def _changes(bound: Bound) -> str | None:
    """The table a keyed UPDATE, DELETE or INSERT … ON CONFLICT may change rows of (None: a
    plain INSERT, which only adds rows). Two ON CONFLICT of one key in one statement would
    fail ("cannot affect row a second time") where one by one they do not."""
    return _traits(bound.statement).changes


# What `_complete` and `_changes` ask of a statement, by its id (with the statement, so that
# a new one given an old one's id is not taken for it): worked out once, not for every
# relayed message (going over its table's columns each time was most of `_prepared`'s
# 75 µs, three times a message).
class _Traits(NamedTuple):
    changes: str | None  # the table it may change rows of (see `_changes`)
    needs: frozenset[str] | None  # the columns a row must give (None: it cannot go with others)


_TRAITS: dict[int, tuple[Executable, _Traits]] = {}


def _traits(statement: Executable) -> _Traits:
    kept = _TRAITS.get(id(statement))
    if kept is not None and kept[0] is statement:
        return kept[1]
    table = getattr(statement, "table", None)
    needs: frozenset[str] | None = None
    if isinstance(table, Table):
        if isinstance(statement, Insert):
            needs = frozenset(c.name for c in table.columns if c.default is not None)
        elif all(c.onupdate is None for c in table.columns):
            needs = frozenset()
    # (_post_values_clause: where SQLAlchemy keeps ON CONFLICT)
    adds_only = isinstance(statement, Insert) and statement._post_values_clause is None
    traits = _Traits(None if adds_only else ("" if table is None else str(table)), needs)
    if len(_TRAITS) > 512:  # (a few dozen built-once statements in practice)
        _TRAITS.clear()
    _TRAITS[id(statement)] = (statement, traits)
    return traits


def _fits(run: list[Part], bound: Bound) -> bool:
    if isinstance(bound, Handing) and any(isinstance(b, Handing) for b, _ in run):
        return False
    table = _changes(bound)
    return table is None or all(_changes(b) != table for b, _ in run)


def _joined(run: list[Part]) -> list[Statement | Announced]:
    if len(run) < 2:
        return [
            bound if isinstance(bound.params, dict) else replace(bound, params=[row])
            for bound, row in run
        ]
    # The one with RETURNING (if any) is the statement; the others its WITH.
    main = next((n for n, (b, _) in enumerate(run) if isinstance(b, Handing)), len(run) - 1)
    key = (main, *((id(b.statement), *row) for b, row in run))
    built = _BUILT.get(key)
    if built is None:
        if len(_BUILT) > 256:  # (a handful of combinations in practice)
            _BUILT.clear()
        parts = [_named(b.statement, row, f"p{n}_") for n, (b, row) in enumerate(run)]
        ctes = [part.cte(f"part{n}") for n, part in enumerate(parts) if n != main]
        # (the statements are kept with it: their ids in the key stay theirs)
        built = _BUILT[key] = (parts[main].add_cte(*ctes), [b.statement for b, _ in run])
    params = {
        f"p{n}_{name}": value for n, (_, row) in enumerate(run) for name, value in row.items()
    }
    head = run[main][0]
    if isinstance(head, Handing):
        return [Handing(built[0], params, then=head.then)]
    return [Bound(built[0], params)]


def _named(statement: Executable, row: dict[str, Any], prefix: str) -> Any:
    """The statement with its values named `prefix` + name: a bindparam of its own renamed,
    a column given by the row's values (an INSERT or UPDATE built without values) bound to
    a bindparam of that name."""
    tree = cast(visitors.ExternallyTraversible, statement)
    own = {p.key for p in visitors.iterate(tree) if isinstance(p, BindParameter)}

    def rename(element: Any, **_: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in row:
            return bindparam(prefix + element.key, type_=element.type)
        return None

    named: Any = visitors.replacement_traverse(tree, {}, rename)
    columns = [name for name in row if name not in own]
    if columns:
        table = named.table
        named = named.values({c: bindparam(prefix + c, type_=table.c[c].type) for c in columns})
    return named


@dataclass(frozen=True)
class Announced:
    """A statement whose effect someone waits for: `then` is called once the transaction
    that changed rows with it has committed (it changed none: not called). `and_run`: the
    statements that follow only if it changed rows, in the same transaction (in the common
    case they cost no round trip)."""

    statement: Statement
    then: Callable[[], None]
    and_run: tuple[Statement, ...] = ()


def affected(result: Result[Any]) -> int:
    """Rows changed by an UPDATE or DELETE (typed: session.execute returns a plain Result)."""
    return int(cast(CursorResult[Any], result).rowcount)


def _insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert_new_bound(dialect: str, table: Table) -> Insert:
    """INSERT, or nothing if a row with the same primary key is there; built once, its
    values come as parameters (see Bound)."""
    return _insert(dialect, table).on_conflict_do_nothing()


def upsert_bound(dialect: str, table: Table, columns: Sequence[str]) -> Insert:
    """`upsert` built once, for rows of `columns`: the values come as parameters."""
    statement = _insert(dialect, table)
    keys = [column.name for column in table.primary_key]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: statement.excluded[name] for name in columns if name not in keys},
    )


def upsert(
    dialect: str, table: Table, values: dict[str, Any], where: ColumnElement[bool] | None = None
) -> Insert:
    """INSERT, or UPDATE the row with the same primary key (only where `where` holds):
    one statement, no read first."""
    statement = _insert(dialect, table).values(**values)
    keys = [column.name for column in table.primary_key]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: statement.excluded[name] for name in values if name not in keys},
        where=where,
    )
