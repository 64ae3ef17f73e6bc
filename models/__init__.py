"""SQLAlchemy models. Dialect-neutral: the same schema runs on SQLite and PostgreSQL."""

from models.base import Base
from models.person import Person

__all__ = ["Base", "Person"]
