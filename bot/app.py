"""The application factory: production and tests build the bot the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Executable, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ConversationHandler
from telegram.ext._utils.trackingdict import TrackingDict  # no public way: see below

from bot.db import make_engine, make_sessionmaker, migrate, startup_lock
from bot.i18n import Catalogues
from bot.persistence import DatabasePersistence
from bot.processing import PerChatUpdateProcessor
from bot.services.broadcasts import Broadcasts
from bot.services.cases import Cases
from bot.services.casework import Casework
from bot.services.chat_leases import ChatLeases
from bot.services.chat_log import ChatLog
from bot.services.handled_updates import HandledUpdates
from bot.services.help_numbers import HelpNumber, load_help_numbers
from bot.services.identity import Identity
from bot.services.outbox import Outbox
from bot.services.people import People
from bot.services.staff import Staff
from bot.services.stats import Stats
from bot.settings import Settings
from bot.telegram_http import AiohttpRequest

log = logging.getLogger(__name__)
MAX_CONCURRENT_UPDATES = 64
# How often an instance looks again at a chat another instance is handling.
LEASE_POLL_SECONDS = 0.02


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    identity: Identity
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
    # Set when several instances may share the work (webhook mode on PostgreSQL).
    leases: ChatLeases | None
    handled_updates: HandledUpdates

    @classmethod
    def create(cls, settings: Settings) -> Services:
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        identity = Identity(settings.secret_key.get_secret_value())
        outbox = Outbox(engine, sessions)
        staff = Staff(sessions, settings.admin_ids)
        # Several instances can share the work only behind a webhook, on PostgreSQL: Telegram
        # gives updates to one poller only, and SQLite serves one process.
        shared = bool(settings.webhook_url) and engine.dialect.name == "postgresql"
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            identity=identity,
            people=People(sessions),
            cases=Cases(sessions, identity, outbox),
            chat_log=ChatLog(engine, sessions),
            outbox=outbox,
            staff=staff,
            casework=Casework(engine, sessions, staff, outbox),
            broadcasts=Broadcasts(engine, sessions, identity, settings.default_locale),
            stats=Stats(sessions),
            catalogues=Catalogues(),
            help_numbers=load_help_numbers(),
            leases=ChatLeases(engine, identity) if shared else None,
            handled_updates=HandledUpdates(engine, shared=shared),
        )


class QorgauApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application plus our services; migrates on start, writes persistence through."""

    services: Services
    # Highest update id fully handled (persistence written): tests and health checks read it.
    last_update_id: int = 0
    in_flight: int = 0
    updates_handled: int = 0
    updates_skipped: int = 0  # resent by Telegram, or the database was away
    # Long-running loops (the outbox sender) that run while the application runs.
    workers: list[Callable[[QorgauApplication], Coroutine[Any, Any, None]]]
    background: list[asyncio.Task[None]]

    async def initialize(self) -> None:
        # Before PTB's own initialize: persistence reads its tables there.
        async with startup_lock(self.services.engine):
            await migrate(self.services.engine)
            await self.services.staff.ensure_admins()
        await self.services.handled_updates.load()
        await super().initialize()

    async def start(self) -> None:
        await super().start()
        for worker in self.workers:
            self.background.append(asyncio.create_task(worker(self)))

    async def stop(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        self.background.clear()
        await super().stop()

    async def shutdown(self) -> None:
        await super().shutdown()
        await self.services.engine.dispose()

    async def process_update(self, update: object) -> None:
        self.in_flight += 1
        try:
            if await self._begin(update):
                await super().process_update(update)
                await self._finish(update)
                self.updates_handled += 1
            else:
                self.updates_skipped += 1
        finally:
            self.in_flight -= 1
            if isinstance(update, Update):
                self.last_update_id = max(self.last_update_id, update.update_id)

    async def _begin(self, update: object) -> bool:
        """Whether to handle the update: not handled before (Telegram resends), and with
        several instances this one holds the chat and has the person's flow fresh from the
        database. When the database is away the person is asked to try again."""
        update_id = update.update_id if isinstance(update, Update) else None
        try:
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
        extra: list[Executable] = []
        update_id = update.update_id if isinstance(update, Update) else None
        if update_id is not None:
            extra.append(self.services.handled_updates.record(update_id))
        chat = PerChatUpdateProcessor.key(update)
        if self.services.leases is not None and chat is not None:
            extra.append(self.services.leases.release(chat))
        await super().update_persistence()  # PTB hands its changes to the persistence…
        await self.persistence.commit(*extra)  # …which writes them with ours
        if update_id is not None:
            self.services.handled_updates.committed(update_id)

    def write_with_update(self, *statements: Executable) -> None:
        """Write these in the transaction that ends the update being handled (cheaper than
        one of their own; a crash before it replays the update)."""
        assert isinstance(self.persistence, DatabasePersistence)
        self.persistence.add(*statements)

    async def update_persistence(self) -> None:
        """PTB's own calls (its periodic job, stopping) get written at once too."""
        await super().update_persistence()
        if isinstance(self.persistence, DatabasePersistence):
            await self.persistence.commit()

    def persistent_conversations(self) -> list[ConversationHandler[Any]]:
        return [
            handler
            for group in self.handlers.values()
            for handler in group
            if isinstance(handler, ConversationHandler) and handler.persistent
        ]


def set_conversation_state(
    handler: ConversationHandler[Any], key: tuple[int, ...], state: object | None
) -> None:
    """PTB has a refresh hook for user_data but none for conversation states; this writes the
    handler's own table without marking it changed (the value came from the database)."""
    conversations = cast(TrackingDict[tuple[int, ...], object], handler._conversations)
    if state is None:
        conversations.data.pop(key, None)
    else:
        conversations.update_no_track({key: state})


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return cast(QorgauApplication, context.application).services


def file_url_for(api_url: str) -> str:
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


def build_application(settings: Settings) -> QorgauApplication:
    from handlers import register

    services = Services.create(settings)
    application = cast(
        QorgauApplication,
        ApplicationBuilder()
        .application_class(QorgauApplication)
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .base_file_url(file_url_for(settings.telegram_api_url))
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .persistence(DatabasePersistence(services.engine, services.identity))
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .build(),
    )
    application.services = services
    application.workers, application.background = [], []
    register(application)
    return application


# Edits are not asked for: a request takes what was sent, as it was sent.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
