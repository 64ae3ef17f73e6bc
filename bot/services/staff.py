"""The staff roster, invites, duty, routing rules and the audit log."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import affected
from models import ROLES, AuditEntry, Invite, RoutingRule, StaffMember

INVITE_VALID_FOR = timedelta(days=7)
# Who is pinged first for each kind of case; coordinators see everything.
ROLE_FOR_KIND = {"legal": "lawyer", "psych": "psychologist", "report": "coordinator"}


@dataclass(frozen=True)
class Member:
    telegram_id: int
    role: str
    name: str
    on_duty: bool


def _member(row: StaffMember) -> Member:
    return Member(row.telegram_id, row.role, row.name, row.on_duty)


def audit(
    session: AsyncSession,
    staff_id: int,
    action: str,
    case_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Record a staff action inside the caller's transaction."""
    session.add(AuditEntry(staff_id=staff_id, action=action, case_id=case_id, detail=detail))


class Staff:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], admin_ids: list[int]) -> None:
        self._sessions = sessions
        self._admin_ids = set(admin_ids)

    async def ensure_admins(self) -> None:
        """ADMIN_IDS are admins, whatever the roster says."""
        async with self._sessions.begin() as session:
            for telegram_id in self._admin_ids:
                row = await session.get(StaffMember, telegram_id)
                if row is None:
                    session.add(StaffMember(telegram_id=telegram_id, role="admin", name="Admin"))
                else:
                    row.role = "admin"

    async def get(self, telegram_id: int) -> Member | None:
        async with self._sessions() as session:
            row = await session.get(StaffMember, telegram_id)
            return _member(row) if row else None

    async def is_admin(self, telegram_id: int) -> bool:
        member = await self.get(telegram_id)
        return telegram_id in self._admin_ids or (member is not None and member.role == "admin")

    async def touch_name(self, telegram_id: int, name: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(StaffMember, telegram_id)
            if row is not None and row.name != name[:64]:
                row.name = name[:64]

    async def create_invite(self, role: str, by: int) -> str:
        if role not in ROLES:
            raise ValueError(role)
        code = secrets.token_urlsafe(12)
        async with self._sessions.begin() as session:
            session.add(Invite(code=code, role=role, created_by=by))
            audit(session, by, "invite", detail=role)
        return code

    async def accept_invite(self, code: str, telegram_id: int, name: str) -> str | None:
        """Use a one-time invite; the role given, or None if the link is used or unknown."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            invite = await session.get(Invite, code)
            if invite is None or invite.used_by is not None:
                return None
            if now - invite.created_at > INVITE_VALID_FOR:
                return None
            invite.used_by, invite.used_at = telegram_id, now
            row = await session.get(StaffMember, telegram_id)
            if row is None:
                session.add(StaffMember(telegram_id=telegram_id, role=invite.role, name=name[:64]))
            elif row.role != "admin":
                row.role = invite.role
            audit(session, telegram_id, "joined", detail=invite.role)
            return invite.role

    async def set_duty(self, telegram_id: int, on: bool) -> bool:
        async with self._sessions.begin() as session:
            row = await session.get(StaffMember, telegram_id)
            if row is None:
                return False
            row.on_duty = on
            audit(session, telegram_id, "duty on" if on else "duty off")
            return True

    async def members(self, *, on_duty: bool | None = None) -> list[Member]:
        query = select(StaffMember).order_by(StaffMember.role, StaffMember.name)
        if on_duty is not None:
            query = query.where(StaffMember.on_duty == on_duty)
        async with self._sessions() as session:
            return [_member(row) for row in (await session.scalars(query)).all()]

    async def anyone_on_duty(self) -> bool:
        async with self._sessions() as session:
            return bool(await session.scalar(select(exists().where(StaffMember.on_duty))))

    async def to_ping(self, kind: str) -> list[Member]:
        """On-duty staff for a new case of this kind: its role and coordinators; if none of
        them is on duty, everyone on duty."""
        on_duty = await self.members(on_duty=True)
        wanted = {ROLE_FOR_KIND.get(kind, "coordinator"), "coordinator"}
        matching = [m for m in on_duty if m.role in wanted]
        return matching or on_duty

    async def set_role(self, telegram_id: int, role: str, by: int) -> bool:
        if role not in ROLES or telegram_id in self._admin_ids:
            return False
        async with self._sessions.begin() as session:
            row = await session.get(StaffMember, telegram_id)
            if row is None:
                return False
            row.role = role
            audit(session, by, "role change", detail=f"{telegram_id} {role}")
            return True

    async def remove(self, telegram_id: int, by: int) -> bool:
        if telegram_id in self._admin_ids:
            return False
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(StaffMember).where(StaffMember.telegram_id == telegram_id)
            )
            audit(session, by, "remove", detail=str(telegram_id))
            return bool(affected(result))

    async def audit_log(self, limit: int = 30) -> list[AuditEntry]:
        async with self._sessions() as session:
            query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            return list((await session.scalars(query)).all())

    # -- routing -------------------------------------------------------------------------------

    async def add_route(
        self, chat_id: int, by: int, *, kind: str | None, category: str | None, locale: str | None
    ) -> int:
        async with self._sessions.begin() as session:
            rule = RoutingRule(kind=kind, category=category, locale=locale, chat_id=chat_id)
            session.add(rule)
            await session.flush()
            audit(session, by, "route add", detail=f"{kind} {category} {locale} {chat_id}")
            return rule.id

    async def routes(self) -> list[RoutingRule]:
        async with self._sessions() as session:
            return list((await session.scalars(select(RoutingRule).order_by(RoutingRule.id))).all())

    async def remove_route(self, rule_id: int, by: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(RoutingRule).where(RoutingRule.id == rule_id))
            audit(session, by, "route remove", detail=str(rule_id))
            return bool(affected(result))

    async def staff_chats(self, default_chat: int) -> set[int]:
        return {default_chat, *(rule.chat_id for rule in await self.routes())}


def pick_route(rules: list[RoutingRule], kind: str, category: str, locale: str) -> int | None:
    """The most specific rule that matches (every field it sets must match)."""
    best: tuple[int, int] | None = None
    for rule in rules:
        fields = [(rule.kind, kind), (rule.category, category), (rule.locale, locale)]
        if any(want is not None and want != have for want, have in fields):
            continue
        score = sum(want is not None for want, _ in fields)
        if best is None or score > best[0]:
            best = (score, rule.chat_id)
    return best[1] if best else None


__all__ = ["ROLES", "Member", "Staff", "audit", "pick_route"]
