from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class ReferralStatus(StrEnum):
    PROPOSED = "proposed"  # a volunteer suggested it; the person has not answered
    AGREED = "agreed"
    DECLINED = "declined"
    MADE = "made"  # the volunteer passed it on
    HELP_RECEIVED = "help_received"  # the person said so when asked later
    NO_HELP = "no_help"


class Referral(Base):
    """A service from the directory a volunteer suggested for a case, and what became of it.

    No identity and no free text: the service's id and kind, which facts of the case the
    person allowed to be passed on (`shared`, codes only), and the times of each step.
    """

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.PROPOSED)
    proposed_by: Mapped[int] = mapped_column(BigInteger)
    shared: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # The person allowed one question later on whether they got help.
    may_ask: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    made_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
