from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class ReadyAnswer(Base):
    """A ready answer of the library coordinators keep (bot/services/ready_answers.py): one
    text in each language, picked under a card and sent in the person's language. Staff
    words only: nothing of any case or person."""

    __tablename__ = "ready_answers"

    key: Mapped[str] = mapped_column(String(24), primary_key=True)  # a-z, 0-9, _
    kk: Mapped[str] = mapped_column(Text)
    ru: Mapped[str] = mapped_column(Text)
    en: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int] = mapped_column(BigInteger, default=0)  # 0: the starter set
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
