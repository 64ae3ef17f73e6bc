from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Case(Base):
    """One request for help. No identity: no name, username, Telegram id, phone or address
    (docs/safety.md, rule 6). `person` is a keyed pseudonym and `reply_to` an encrypted chat id;
    both are erased by /forget and by retention.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_created_at", "created_at"),
        Index("ix_cases_status_taken_by", "status", "taken_by"),
        # Retention finds what newly expired: not yet erased, closed before the cutoff.
        Index("ix_cases_erased_at_closed_at", "erased_at", "closed_at"),
        # The open cases only (/queue, bot/services/triage.py): a few hundred among a million.
        # Its size also tells SQLite's planner how few they are: without it, the planner took
        # status = 'open' for half the table and scanned all of it (bench/scale.py).
        Index(
            "ix_cases_open_created_at",
            "created_at",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # report, legal, psych
    category: Mapped[str] = mapped_column(String(32))
    subcategory: Mapped[str | None] = mapped_column(String(32))
    affected: Mapped[str] = mapped_column(String(16))
    age_band: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(24))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # What staff assessed (models.enums.RiskLevel); None until someone does (an urgent case
    # then counts as high: bot/services/casework.effective_risk).
    risk: Mapped[str | None] = mapped_column(String(12))
    locale: Mapped[str] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(Text)  # scrubbed before it is stored
    may_answer: Mapped[bool] = mapped_column(Boolean)
    consent_version: Mapped[str] = mapped_column(String(32))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(16))  # person, staff, forgotten
    person: Mapped[str | None] = mapped_column(String(64), index=True)
    reply_to: Mapped[str | None] = mapped_column(Text)  # encrypted chat id

    # Staff side: where the card is, who took it, how it ended.
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    topic_id: Mapped[int | None] = mapped_column(BigInteger)
    taken_by: Mapped[int | None] = mapped_column(BigInteger)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(24))
    rating: Mapped[int | None] = mapped_column(Integer)
    # The flow that sent it: the same flow replayed after a crash finds its case again.
    intake_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    # When retention erased it (None: not yet); a later run skips it.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Safe times (issue 13): answers reach the person only from `answer_from` o'clock up to
    # (not including) `answer_until` o'clock, local time (BROADCAST_TIMEZONE); None: any
    # time. A window may pass midnight (22-7). Outside it they wait in the outbox.
    answer_from: Mapped[int | None] = mapped_column(Integer)
    answer_until: Mapped[int | None] = mapped_column(Integer)
    # Answers arrive without a sound (disable_notification).
    answer_silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Answers only after the person writes first: they wait until the person writes to the
    # bot, then may arrive for a while (bot/services/outbox.py, ANSWERS_AFTER_WRITING).
    # `person_wrote_at` is when the person last wrote (kept only while this is chosen).
    answer_after_writing: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    person_wrote_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseMessage(Base):
    """A message in a case. Text is scrubbed; media are referenced by the id of the person's
    own message (to be copied to staff), never downloaded or stored.
    """

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in (from the person), out (to them)
    media: Mapped[str] = mapped_column(String(16))  # text, photo, document, voice, ...
    text: Mapped[str | None] = mapped_column(Text)
    source_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseDay(Base):
    """The numbers of one UTC day's cases, once none of them is open (see
    bot/services/stats.py): /stats adds these up instead of reading every case."""

    __tablename__ = "case_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    counts: Mapped[str] = mapped_column(Text)  # JSON


class ChatMessage(Base):
    """Ids (never text) of messages in a person's chat, so "Exit and clear chat" can delete
    them. Telegram allows deletion for 48 hours; older rows are pruned.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_person_at", "person", "at"),
        Index("ix_chat_messages_at", "at"),  # the hourly prune
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
