from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Person(Base):
    """What the bot remembers about a person: only a keyed pseudonym and choices they made.

    A row exists only once the person chose something (a language, a subscription);
    pressing /start alone stores nothing.
    """

    __tablename__ = "people"

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
