from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Broadcast(Base):
    """An awareness message to subscribers: one version per language (JSON)."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # JSON {locale: {"text": ..., "photo": file_id or null}}
    versions: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(12), default="running"
    )  # running paused cancelled done
    admin_chat_id: Mapped[int] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BroadcastDelivery(Base):
    """One recipient of one broadcast. `sending` is written just before the message goes
    out, so after a crash a row in that state is never sent again (nobody receives it
    twice); see bot/services/broadcasts.py."""

    __tablename__ = "broadcast_deliveries"
    __table_args__ = (Index("ix_broadcast_deliveries_status", "broadcast_id", "status"),)

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    # pending, claimed, sending, sent, failed, blocked, skipped (open case or unsubscribed),
    # unknown (caught mid-send by a crash)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Tries Telegram answered with an error of its own (5xx): given up after a few.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
