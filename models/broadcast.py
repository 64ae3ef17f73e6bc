from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
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
    )  # scheduled running paused cancelled done
    admin_chat_id: Mapped[int] = mapped_column(BigInteger)
    # The admin's language when composing (their stored choice, if any, wins when shown).
    admin_locale: Mapped[str | None] = mapped_column(String(8))
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # When a scheduled one is due (UTC); recipients are fixed when it starts.
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "" everyone, "lang:kk" one language, "region:almaty" those who shared that region.
    audience: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # The admin confirmed sending in the quiet hours (QUIET_HOURS); otherwise it waits.
    night_ok: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Recipients are fixed a chunk at a time, in pseudonym order, as the sending reaches them
    # (so "Send" is not held up by writing 100,000 rows): the last pseudonym fixed so far,
    # "" before the first, None once all are. `planned`: the audience's size at the start.
    fixed_after: Mapped[str | None] = mapped_column(String(64))
    planned: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # JSON {status: count} of its deliveries, written when they are pruned (long finished).
    tally: Mapped[str | None] = mapped_column(Text)


class BroadcastDelivery(Base):
    """One recipient of one broadcast. `sending` is written just before the message goes
    out, so after a crash a row in that state is never sent again (nobody receives it
    twice); see bot/services/broadcasts.py."""

    __tablename__ = "broadcast_deliveries"
    # With `person` last, the next pending rows after a cursor come straight off the index.
    __table_args__ = (Index("ix_broadcast_deliveries_status", "broadcast_id", "status", "person"),)

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
    # The person unsubscribed within a day of receiving it (the campaign report counts these).
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
