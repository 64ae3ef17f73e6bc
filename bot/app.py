"""The application factory: production and tests build the bot the same way."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ConversationHandler, ExtBot

from bot.db import Announced, Statement, make_engine, make_sessionmaker, migrate, startup_lock
from bot.i18n import Catalogues
from bot.persistence import DatabasePersistence
from bot.processing import PerChatUpdateProcessor
from bot.ptb_private import set_conversation_state
from bot.rate_limiter import ChatRateLimiter
from bot.services.broadcasts import Broadcasts
from bot.services.cases import Cases
from bot.services.casework import Casework
from bot.services.chat_leases import ChatLeases
from bot.services.chat_log import ChatLog
from bot.services.directory import Service, load_directory
from bot.services.handled_updates import HandledUpdates
from bot.services.help_numbers import HelpNumber, load_help_numbers
from bot.services.history import History
from bot.services.identity import Identity
from bot.services.keys import Keys
from bot.services.notes import Notes
from bot.services.outbox import Outbox
from bot.services.people import People
from bot.services.rapid_response import RapidResponse, protocol
from bot.services.ready_answers import ReadyAnswers
from bot.services.referrals import Referrals
from bot.services.staff import Staff
from bot.services.stats import Stats
from bot.services.triage import Triage
from bot.services.urgency import rules as urgency_rules
from bot.settings import Settings

log = logging.getLogger(__name__)
MAX_CONCURRENT_UPDATES = 64
# How often an instance looks again at a chat another instance is handling.
LEASE_POLL_SECONDS = 0.02
WORKERS_STOP_SECONDS = 15
# Set while this task handles an update (its writes can go with the update's transaction).
_HANDLING: ContextVar[bool] = ContextVar("handling", default=False)
# The statements of the update being handled that end a wait on the person's writing (see
# `end_waits_with_update`): withdrawn when its handler read that nothing waits.
_WAIT_ENDS: ContextVar[list[Statement | Announced] | None] = ContextVar("wait_ends", default=None)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    identity: Identity
    keys: Keys
    people: People
    cases: Cases
    chat_log: ChatLog
    outbox: Outbox
    staff: Staff
    casework: Casework
    broadcasts: Broadcasts
    stats: Stats
    catalogues: Catalogues
    help_numbers: list[HelpNumber]
    directory: list[Service]
    referrals: Referrals
    notes: Notes  # staff notes and handover notes (issue 16)
    history: History  # /case, /mine (issue 16)
    # Set when several instances may share the work (webhook mode on PostgreSQL).
    leases: ChatLeases | None
    handled_updates: HandledUpdates
    ready_answers: ReadyAnswers
    triage: Triage
    rapid_response: RapidResponse  # urgent child cases' steps (docs/rapid-response.md)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        urgency_rules(), protocol()  # a mistake in either data file stops the start
        identity = Identity.of(settings)
        outbox = Outbox(engine, sessions, ZoneInfo(settings.broadcast_timezone))
        staff = Staff(sessions, settings.admin_ids)
        directory = load_directory()
        # Several instances can share the work only behind a webhook, on PostgreSQL: Telegram
        # gives updates to one poller only, and SQLite serves one process.
        shared = bool(settings.webhook_url) and engine.dialect.name == "postgresql"
        max_open = settings.max_open_cases_per_volunteer
        casework = Casework(engine, sessions, staff, outbox, max_open=max_open)
        people = People(sessions)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            identity=identity,
            keys=Keys(engine, identity),
            people=people,
            cases=Cases(sessions, identity, outbox, people),
            chat_log=ChatLog(engine, sessions),
            outbox=outbox,
            staff=staff,
            casework=casework,
            broadcasts=Broadcasts(engine, sessions, identity, settings.default_locale),
            stats=Stats(sessions),
            catalogues=Catalogues(),
            help_numbers=load_help_numbers(),
            directory=directory,
            referrals=Referrals(sessions, outbox, directory, staff),
            notes=Notes(sessions, staff, outbox),
            history=History(sessions),
            leases=ChatLeases(engine, identity) if shared else None,
            handled_updates=HandledUpdates(engine, shared=shared),
            ready_answers=ReadyAnswers(sessions, casework, outbox),
            triage=Triage(sessions),
            rapid_response=RapidResponse(engine, sessions, outbox),
        )


class QorgauApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application plus our services; migrates on start, writes persistence through."""

    services: Services
    # Highest update id fully handled (persistence written): tests and health checks read it.
    last_update_id: int = 0
    in_flight: int = 0
    updates_handled: int = 0
    updates_skipped: int = 0  # resent by Telegram, or the database was away
    # Updates that failed because the database was away: not confirmed, handled again later.
    unhandled: set[int]
    # Updates whose end was written with their handler's own transaction (`update_ended`).
    ended_here: set[int]
    # Long-running loops (the outbox sender) that run while the application runs.
    workers: list[Callable[[QorgauApplication], Coroutine[Any, Any, None]]]
    background: list[asyncio.Task[None]]

    async def initialize(self) -> None:
        # Before PTB's own initialize: persistence reads its tables there.
        async with startup_lock(self.services.engine):
            await migrate(self.services.engine)
            await self.services.staff.ensure_admins()
            # Flows kept under an older SECRET_KEY (or none we hold) before PTB loads them.
            await self.services.keys.prepare_flows()
        await self.services.handled_updates.load()
        await super().initialize()

    async def start(self) -> None:
        await super().start()
        for worker in self.workers:
            self.background.append(asyncio.create_task(worker(self)))

    async def stop(self) -> None:
        await self._between_transactions()
        for task in self.background:  # no await since the check: none is inside one now
            task.cancel()
        # Bounded: a worker that does not wind down must not keep SIGTERM from stopping the
        # bot (what it had claimed goes back to pending after its lease, as after a kill).
        if self.background:
            _, stuck = await asyncio.wait(self.background, timeout=WORKERS_STOP_SECONDS)
            if stuck:
                log.warning(
                    "%d background worker(s) did not stop within %d s",
                    len(stuck),
                    WORKERS_STOP_SECONDS,
                )
        self.background.clear()
        await super().stop()

    async def _between_transactions(self) -> None:
        """Wait (a few seconds at most) until no worker holds a database connection, so that
        cancelling them interrupts a network call or a wait, never a transaction. A
        transaction cancelled half-way on SQLite (aiosqlite) leaves its connection thrown
        away with its write lock held, and the next write (PTB's last persistence flush,
        or a worker's own clean-up) can then block the whole process for good: reproduced
        with SQLAlchemy 2.1 and aiosqlite 0.22 by cancelling a task inside a transaction."""
        engine = self.services.engine
        if engine.dialect.name != "sqlite":
            return  # asyncpg: the server ends a connection given up half-way, locks and all
        checked_out = getattr(engine.sync_engine.pool, "checkedout", None)
        deadline = time.monotonic() + WORKERS_STOP_SECONDS / 3
        while checked_out is not None and time.monotonic() < deadline:
            if not checked_out():
                return
            # The pool has no event for "all returned"; a transaction lasts milliseconds.
            await asyncio.sleep(0.005)

    async def shutdown(self) -> None:
        await super().shutdown()
        await self.services.engine.dispose()

    async def process_update(self, update: object) -> None:
        self.in_flight += 1
        handling, wait_ends = _HANDLING.set(True), _WAIT_ENDS.set([])
        try:
            if await self._begin(update):
                await super().process_update(update)
                try:
                    await self._finish(update)
                except Exception as error:
                    await self.process_error(update, error)
                    raise
                self.updates_handled += 1
            else:
                self.updates_skipped += 1
        finally:
            _HANDLING.reset(handling)
            _WAIT_ENDS.reset(wait_ends)
            self.in_flight -= 1
            if isinstance(update, Update):
                self.last_update_id = max(self.last_update_id, update.update_id)
                self.ended_here.discard(update.update_id)

    async def process_error(
        self,
        update: object | None,
        error: Exception,
        job: Any = None,
        coroutine: Any = None,
    ) -> bool:
        """PTB's error handling, plus: an update that failed because the database was away
        is marked unhandled, so that it is not confirmed to Telegram and comes again."""
        if isinstance(update, Update) and database_away(error):
            self.unhandled.add(update.update_id)
        return await super().process_error(update, error, job, coroutine)

    async def _begin(self, update: object) -> bool:
        """Whether to handle the update: not handled before (Telegram resends), and with
        several instances this one holds the chat and has the person's flow fresh from the
        database. When the database is away the person is asked to try again."""
        update_id = update.update_id if isinstance(update, Update) else None
        try:
            if isinstance(update, Update) and update.effective_user is not None:
                # After a change of SECRET_KEY: the person's rows move to their new pseudonym.
                await self.services.keys.adopt(update.effective_user.id)
            if self.services.leases is not None and isinstance(update, Update):
                return await self._take_chat(update)
            return update_id is None or not await self.services.handled_updates.seen(update_id)
        except Exception as error:
            await self.process_error(update, error)
            return False

    async def _take_chat(self, update: Update) -> bool:
        """Several instances: wait for the chat, then read whether the update was handled
        already and the person's flow, language and draft, in one query (the person waits)."""
        leases, chat = self.services.leases, PerChatUpdateProcessor.key(update)
        assert leases is not None
        while True:
            async with self.services.engine.begin() as connection:
                held = chat is None or await leases.try_acquire(connection, chat)
                repeated = held and await self._read_ahead(connection, update)
            if held:
                break
            await asyncio.sleep(LEASE_POLL_SECONDS)  # another instance has the chat
        if repeated and chat is not None:
            assert isinstance(self.persistence, DatabasePersistence)
            await self.persistence.commit(leases.release(chat))
        return not repeated

    async def _read_ahead(self, connection: AsyncConnection, update: Update) -> bool:
        """Whether the update was handled before; if not, load what another instance may have
        changed: the flow states, the draft (PTB takes it through refresh_user_data) and the
        person's language."""
        services, persistence = self.services, self.persistence
        assert isinstance(persistence, DatabasePersistence)
        if services.handled_updates.seen_here(update.update_id):
            return True
        user, chat = update.effective_user, update.effective_chat
        columns: dict[str, ColumnElement[Any]] = {
            "seen": services.handled_updates.seen_query(update.update_id)
        }
        handlers = {h.name: h for h in self.persistent_conversations() if h.name is not None}
        key = (chat.id, user.id) if user is not None and chat is not None else None
        if user is not None:
            pseudonym = services.identity.pseudonym(user.id)
            columns["locale"] = services.people.locale_query(pseudonym)
            columns["draft"] = persistence.draft_query(user.id)
        if key is not None:
            columns |= {f"state:{name}": persistence.state_query(name, key) for name in handlers}
        row = (
            (await connection.execute(select(*(c.label(n) for n, c in columns.items()))))
            .one()
            ._mapping
        )
        if row["seen"]:
            return True
        if user is not None:
            services.people.remember_locale(pseudonym, row["locale"])
            persistence.drafted(user.id, row["draft"])
        if key is not None:
            for name, handler in handlers.items():
                state = persistence.stated(name, key, row[f"state:{name}"])
                set_conversation_state(handler, key, state)
        return False

    async def _finish(self, update: object) -> None:
        """Write-through: the flow's state, the draft, that the update was handled and (several
        instances) the chat's release, in one transaction. A crash before it commits replays
        the update; the flows are idempotent."""
        assert isinstance(self.persistence, DatabasePersistence)
        extra: list[Statement] = []
        update_id = update.update_id if isinstance(update, Update) else None
        if update_id is not None and update_id not in self.ended_here:  # (written already)
            extra.append(self.services.handled_updates.record(update_id))
        chat = PerChatUpdateProcessor.key(update)
        if self.services.leases is not None and chat is not None:
            extra.append(self.services.leases.release(chat))
        await super().update_persistence()  # PTB hands its changes to the persistence…
        await self.persistence.commit(*extra)  # …which writes them with ours
        if update_id is not None:
            self.services.handled_updates.committed(update_id)

    def update_end(self, update: Update) -> list[Statement]:
        """What `_finish` writes for this update (that it was handled), for a handler whose
        service transaction is the update's last work: written there, it saves the update
        a transaction of its own (see `update_ended`). What `write_with_update` adds (ids of
        a person's chat) and the flows' changes are still written by `_finish`. Not with
        several instances: the chat's lease is released at the very end."""
        if self.services.leases is not None:
            return []
        return [self.services.handled_updates.record(update.update_id)]

    def update_ended(self, update: Update) -> None:
        """The handler's transaction wrote `update_end` and committed: nothing is left to
        write for this update unless the flows changed (then `_finish` writes those)."""
        self.ended_here.add(update.update_id)
        self.services.handled_updates.committed(update.update_id)

    def write_with_update(self, *statements: Statement | Announced) -> None:
        """Write these in the transaction that ends the update being handled (cheaper than
        one of their own; a crash before it replays the update)."""
        assert isinstance(self.persistence, DatabasePersistence)
        self.persistence.add(*statements)

    def end_waits_with_update(self, *statements: Statement | Announced) -> None:
        """`write_with_update` for the statements that end what waits for the person to
        write (a hold, answers held until they write): every message of theirs runs them,
        unless its handler read that nothing waits (`nothing_waits`)."""
        self.write_with_update(*statements)
        ends = _WAIT_ENDS.get()
        if ends is not None:
            ends.extend(statements)

    def nothing_waits(self) -> None:
        """The handler read, in its own transaction, that nothing waits for this person to
        write: what `end_waits_with_update` queued is not written (two statements fewer).
        Safe: a person's updates are handled one at a time, so nothing can start waiting in
        between. Written already with another chat's update: nothing to take back."""
        ends = _WAIT_ENDS.get()
        if ends:
            assert isinstance(self.persistence, DatabasePersistence)
            self.persistence.withdraw(*ends)
            ends.clear()

    def write_with_update_if_any(self, *statements: Statement) -> bool:
        """`write_with_update` when an update is being handled here (False otherwise: a
        job's caller writes them itself)."""
        if not _HANDLING.get():
            return False
        self.write_with_update(*statements)
        return True

    async def update_persistence(self) -> None:
        """PTB's own calls (its periodic job, stopping) get written at once too."""
        await super().update_persistence()
        if isinstance(self.persistence, DatabasePersistence):
            await self.persistence.commit()

    async def end_flows(self, chat_id: int, user_id: int) -> None:
        """End every flow the person is in (their state leaves the database with the update:
        /forget keeps no encrypted id of theirs)."""
        assert isinstance(self.persistence, DatabasePersistence)
        for handler in self.persistent_conversations():
            assert handler.name is not None
            set_conversation_state(handler, (chat_id, user_id), None)
            await self.persistence.update_conversation(handler.name, (chat_id, user_id), None)

    def persistent_conversations(self) -> list[ConversationHandler[Any]]:
        return [
            handler
            for group in self.handlers.values()
            for handler in group
            if isinstance(handler, ConversationHandler) and handler.persistent
        ]


class QorgauContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every handler and job gets (set in bot/compose.py): the services typed."""

    @property
    def app(self) -> QorgauApplication:
        return cast(QorgauApplication, self.application)

    @property
    def services(self) -> Services:
        return self.app.services

    @property
    def limiter(self) -> ChatRateLimiter:
        """The one way out (bot/rate_limiter.py), which also stops what waits for a chat
        whose person left in a hurry."""
        return cast(ChatRateLimiter, self.bot.rate_limiter)


CONTEXT_TYPES = ContextTypes(context=QorgauContext)


def database_away(error: BaseException) -> bool:
    """The database could not be reached or written (down, refused, disk full)."""
    return isinstance(error, SQLAlchemyError | OSError)


def file_url_for(api_url: str) -> str:
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


# Edits are not asked for: a request takes what was sent, as it was sent. The bot's own
# membership changes: added to a group, it says what it still needs there (flows/setup.py).
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
