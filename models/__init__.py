"""SQLAlchemy models. Dialect-neutral: the same schema runs on SQLite and PostgreSQL."""

from models.base import Base
from models.broadcast import Broadcast, BroadcastDelivery
from models.case import Case, CaseDay, CaseMessage, ChatMessage
from models.case_step import CaseStep
from models.conversation import ChatLease, ConversationState, Draft, HandledUpdate
from models.note import CaseNote
from models.person import HeldChat, Person
from models.ready_answer import ReadyAnswer
from models.referral import Referral, ReferralStatus
from models.staff import (
    ROLES,
    AuditEntry,
    Invite,
    OutboxMessage,
    RelayLink,
    RoutingRule,
    StaffMember,
)

__all__ = [
    "ROLES",
    "AuditEntry",
    "Base",
    "Broadcast",
    "BroadcastDelivery",
    "Case",
    "CaseDay",
    "CaseMessage",
    "CaseNote",
    "CaseStep",
    "ChatLease",
    "ChatMessage",
    "ConversationState",
    "Draft",
    "HandledUpdate",
    "HeldChat",
    "Invite",
    "OutboxMessage",
    "Person",
    "ReadyAnswer",
    "Referral",
    "ReferralStatus",
    "RelayLink",
    "RoutingRule",
    "StaffMember",
]
