from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class CaseNote(Base):
    """Staff words about a case that never reach the person: a note written in the case's
    topic or with /note, and the handover note asked for on release (`kind`, a NoteKind).

    The text is scrubbed like the person's, and erased with the case's other free text when
    retention runs. `chat_id`, `message_id`: the staff-chat message it was written as (for a
    handover note, the bot's request for it), so that a reply to it is a note too.
    """

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_chat_id_message_id", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    staff_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    media: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
