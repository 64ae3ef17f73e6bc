from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class ConversationState(Base):
    """PTB conversation states. The key (chat and user id) is kept encrypted, found by HMAC."""

    __tablename__ = "conversation_states"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(Text)  # encrypted
    state: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Draft(Base):
    """A request being written (PTB user_data), encrypted, deleted when the flow ends."""

    __tablename__ = "drafts"

    user_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(Text)  # encrypted Telegram user id
    data: Mapped[str] = mapped_column(Text)  # encrypted JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ChatLease(Base):
    """Which instance handles a chat's update right now (several instances on PostgreSQL):
    one chat's updates stay in order however the load balancer spreads them."""

    __tablename__ = "chat_leases"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))
    until: Mapped[datetime] = mapped_column(UTCDateTime())


class HandledUpdate(Base):
    """Telegram update ids already handled (a day's worth): a resent update is skipped.
    Telegram resends a webhook update whose answer it did not get, and polling after a crash
    gets again what it had not confirmed; the person must not see a step happen twice."""

    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
