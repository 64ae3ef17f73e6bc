"""SQLAlchemy models. Dialect-neutral: the same schema runs on SQLite and PostgreSQL."""

from models.base import Base
from models.case import Case, CaseMessage, ChatMessage
from models.conversation import ConversationState, Draft
from models.person import Person

__all__ = ["Base", "Case", "CaseMessage", "ChatMessage", "ConversationState", "Draft", "Person"]
