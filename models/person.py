from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Person(Base):
    """What the bot remembers about a person: only a keyed pseudonym and choices they made.

    A row exists only once the person chose something (a language, a subscription);
    pressing /start alone stores nothing.
    """

    __tablename__ = "people"
    __table_args__ = (Index("ix_people_subscribed_updated_at", "subscribed", "updated_at"),)

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    # Awareness messages are opt-in; the chat to send them to is kept encrypted, and only
    # while subscribed.
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    chat: Mapped[str | None] = mapped_column(Text)
    # The region for regional news: only if they chose to share it when subscribing; never
    # taken from their cases. Dropped with the subscription.
    region: Mapped[str | None] = mapped_column(String(24))
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class HeldChat(Base):
    """A person who pressed "Exit and clear chat" (safety rule 3): nothing more goes to their
    chat until they write again. Their outbox rows wait (bot/services/outbox.py); the row is
    deleted when they write, and by /forget."""

    __tablename__ = "held_chats"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
