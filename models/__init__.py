"""SQLAlchemy models. Dialect-neutral: the same schema runs on SQLite and PostgreSQL."""

from models.base import Base
from models.broadcast import Broadcast, BroadcastDelivery
from models.case import Case, CaseMessage, ChatMessage
from models.conversation import ChatLease, ConversationState, Draft, HandledUpdate
from models.person import Person
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
    "CaseMessage",
    "ChatLease",
    "ChatMessage",
    "ConversationState",
    "Draft",
    "HandledUpdate",
    "Invite",
    "OutboxMessage",
    "Person",
    "RelayLink",
    "RoutingRule",
    "StaffMember",
]
