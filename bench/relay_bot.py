"""A comparable relay bot, as the common open-source "feedback bots" are written: the yardstick
`bench.relay` measures Qorgau against on the same stand-in, PostgreSQL and machine (issue 12
set Qorgau's CPU target next to such a bot's). Not part of Qorgau, and not safe to run for
people: a message in flight when it is killed is lost (RELAY_DURABLE keeps an outbox but
sends nothing again), no consent, no pseudonyms, no rate limiting, no retries.

A person's message is sent to the staff group with a head naming them, and the link (the
staff copy's id -> the person's chat) is written in one transaction; a staff member's reply
to a copy is looked up in one transaction and copied to the person. Same stack as Qorgau:
python-telegram-bot 22, SQLAlchemy 2 async (ORM) on asyncpg, the same HTTP transport and
update processor, so the difference measured is the design, not the parts.

With RELAY_DURABLE=1 it makes, written plainly, the Bot API calls and about the round trips
that Qorgau makes for its guarantees on a relayed message: each message is written to an
outbox before it is sent and marked sent after; the person is told their message was added
once it is kept; a text answer goes as a new message under a head, and the volunteer's
answer gets a ✓ once delivered. It does not give the guarantees themselves: PTB's polling
confirms an update before it is handled, and nothing sends again what a crash left pending
(nor pseudonyms, scrubbing, encryption, pacing, routing). It tells apart what the calls cost
on this stack from what the rest of Qorgau costs. It is not the cheapest way to make them
either: it runs each statement in BEGIN and COMMIT, through the ORM, as plain bots do.
"""

from __future__ import annotations

import os

from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column
from telegram import Message, ReactionTypeEmoji, Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.app import ALLOWED_UPDATES
from bot.processing import PerChatUpdateProcessor
from bot.telegram_http import AiohttpRequest


class Base(DeclarativeBase):
    pass


class Link(Base):
    __tablename__ = "bench_relay_links"

    staff_message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_chat_id: Mapped[int] = mapped_column(BigInteger)


class Outgoing(Base):
    """RELAY_DURABLE: a message to send, kept until it is sent."""

    __tablename__ = "bench_relay_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_chat: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    from_message_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    # to staff: the person's chat, and the copy's id once sent (what a reply is looked up by)
    person_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


STAFF_CHAT = int(os.environ["STAFF_CHAT_ID"])
DURABLE = bool(os.environ.get("RELAY_DURABLE"))
ENGINE: AsyncEngine = create_async_engine(os.environ["DATABASE_URL"])
SESSIONS = async_sessionmaker(ENGINE, expire_on_commit=False)


async def person_behind(
    session: AsyncSession, reply: Message, copy_id: InstrumentedAttribute[int | None]
) -> int | None:
    """The person whose relayed message a staff member replied to (`copy_id`: the column of
    the staff copy's id, in Link or Outgoing)."""
    assert reply.reply_to_message is not None
    table = copy_id.class_
    return await session.scalar(
        select(table.person_chat_id).where(copy_id == reply.reply_to_message.message_id)
    )


async def from_person_kept(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """RELAY_DURABLE: kept, "added", sent, marked sent."""
    message = update.effective_message
    assert message is not None and message.from_user is not None
    text = f"From {message.from_user.full_name} (#{message.chat_id}):\n{message.text}"
    async with SESSIONS.begin() as session:
        row = Outgoing(
            to_chat=STAFF_CHAT,
            text=text,
            from_message_id=message.message_id,
            person_chat_id=message.chat_id,
        )
        session.add(row)
    await message.reply_text("Added to your request.")
    copy = await context.bot.send_message(STAFF_CHAT, text)
    async with SESSIONS.begin() as session:
        row.status, row.staff_message_id = "sent", copy.message_id
        session.add(row)


async def from_staff_kept(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """RELAY_DURABLE: looked up and kept, sent to the person, ✓, marked sent."""
    message = update.effective_message
    assert message is not None
    async with SESSIONS.begin() as session:
        person = await person_behind(session, message, Outgoing.staff_message_id)
        if person is None:
            return
        row = Outgoing(to_chat=person, from_message_id=message.message_id)
        session.add(row)
    # (a text answer goes as a new message under a head, as Qorgau sends it, not a copy)
    await context.bot.send_message(person, f"Helpline: {message.text}")
    await message.set_reaction(ReactionTypeEmoji("👍"))
    async with SESSIONS.begin() as session:
        row.status = "sent"
        session.add(row)


async def from_person(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.from_user is not None
    copy = await context.bot.send_message(
        STAFF_CHAT, f"From {message.from_user.full_name} (#{message.chat_id}):\n{message.text}"
    )
    async with SESSIONS.begin() as session:
        session.add(Link(staff_message_id=copy.message_id, person_chat_id=message.chat_id))


async def from_staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    async with SESSIONS.begin() as session:
        person = await person_behind(session, message, Link.staff_message_id)
    if person is not None:
        await message.copy(person)


async def create_tables(_: Application) -> None:  # type: ignore[type-arg]
    async with ENGINE.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


def main() -> None:
    app = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_URL"])
        .concurrent_updates(PerChatUpdateProcessor(64))
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(1))
        .post_init(create_tables)
        .build()
    )
    private, staff = filters.ChatType.PRIVATE & filters.TEXT, filters.Chat(STAFF_CHAT)
    app.add_handler(MessageHandler(private, from_person_kept if DURABLE else from_person))
    app.add_handler(
        MessageHandler(staff & filters.REPLY, from_staff_kept if DURABLE else from_staff)
    )
    app.run_polling(allowed_updates=ALLOWED_UPDATES)


if __name__ == "__main__":
    main()
