from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class CaseStep(Base):
    """One step of the rapid-response protocol (bot/data/rapid_response.toml) for one urgent
    child case: written with its deadline when the case is opened; `done_at` and `done_by`
    (a staff Telegram id) when someone presses it under the card; `overdue_at` when
    coordinators were told it missed its deadline (once)."""

    __tablename__ = "case_steps"
    __table_args__ = (
        UniqueConstraint("case_id", "step"),
        # The sweep: steps not done, past their deadline, nobody told yet.
        Index("ix_case_steps_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[int | None] = mapped_column(BigInteger)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
