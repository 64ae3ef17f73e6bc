"""The staff roster, invites, duty, routing rules and the audit log."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import Bound, affected
from models import ROLES, AuditEntry, Invite, RoutingRule, StaffMember
from models.enums import AuditAction, CaseKind, Role

INVITE_VALID_FOR = timedelta(days=7)
# The staff id of audit entries the person or the bot caused (a case closed by the person).
PERSON_OR_BOT = 0
# Who is pinged first for each kind of case; coordinators see everything.
ROLE_FOR_KIND = {
    CaseKind.LEGAL: Role.LAWYER,
    CaseKind.PSYCH: Role.PSYCHOLOGIST,
    CaseKind.REPORT: Role.COORDINATOR,
}


@dataclass(frozen=True)
class Member:
    telegram_id: int
    role: str
    name: str
    on_duty: bool


@dataclass(frozen=True)
class Removal:
    was_staff: bool
    invites_revoked: int


def member(row: StaffMember) -> Member:
    return Member(row.telegram_id, row.role, row.name, row.on_duty)


def _rename(row: StaffMember | None, name: str) -> None:
    """Keep a member's name as Telegram shows it now (only written when it changed)."""
    if row is not None and row.name != name[:64]:
        row.name = name[:64]


def audit(
    session: AsyncSession,
    staff_id: int,
    action: str,
    case_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Record a staff action inside the caller's transaction, timed now (not when the
    session writes it: an entry sent at once, `audited`, may come after it in time)."""
    at = datetime.now(UTC)
    session.add(AuditEntry(at=at, staff_id=staff_id, action=action, case_id=case_id, detail=detail))


# `audit` as a statement built once, on the table, run with a list (no RETURNING of its id):
# every answer runs it, and the ORM's flush of one row cost more CPU than the INSERT.
_AUDIT = insert(cast(Table, AuditEntry.__table__))


def audited(
    staff_id: int, action: str, case_id: int | None = None, detail: str | None = None
) -> Bound:
    """The statement that records a staff action (run it in the caller's transaction)."""
    entry = {
        "at": datetime.now(UTC),
        "staff_id": staff_id,
        "action": action,
        "case_id": case_id,
        "detail": detail,
    }
    return Bound(_AUDIT, [entry], keyed=True)


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
                    session.add(StaffMember(telegram_id=telegram_id, role=Role.ADMIN, name="Admin"))
                else:
                    row.role = Role.ADMIN

    async def get(self, telegram_id: int) -> Member | None:
        async with self._sessions() as session:
            row = await session.get(StaffMember, telegram_id)
            return member(row) if row else None

    def _role(self, telegram_id: int, row: StaffMember | None) -> Role | None:
        """The person's role on the line (ADMIN_IDS are admins whatever the roster says)."""
        if telegram_id in self._admin_ids:
            return Role.ADMIN
        return Role(row.role) if row is not None else None

    async def role_of(self, telegram_id: int) -> Role | None:
        """See `_role` (an admin by ADMIN_IDS is known without reading the roster)."""
        if telegram_id in self._admin_ids:
            return Role.ADMIN
        async with self._sessions() as session:
            return self._role(telegram_id, await session.get(StaffMember, telegram_id))

    async def role_in(self, session: AsyncSession, telegram_id: int, name: str) -> Role | None:
        """`role_of`, in the caller's transaction, keeping the member's name as Telegram
        shows it now (see `touch_name`)."""
        row = await session.get(StaffMember, telegram_id)
        _rename(row, name)
        # Held for the transaction: the session keeps unchanged rows only while something
        # refers to them, and the answer queued next reads the same member (Outbox.add).
        session.info.setdefault("rows_read", []).append(row)
        return self._role(telegram_id, row)

    @staticmethod
    async def is_staff_chat(session: AsyncSession, chat_id: int, default_chat: int) -> bool:
        """The staff chat, or one a routing rule sends cases to (in the caller's
        transaction): `staff_chats` without reading every rule."""
        if chat_id == default_chat:
            return True
        found = await session.scalar(
            select(RoutingRule.id).where(RoutingRule.chat_id == chat_id).limit(1)
        )
        return found is not None

    async def is_admin(self, telegram_id: int) -> bool:
        return await self.role_of(telegram_id) is Role.ADMIN

    async def refused(self, telegram_id: int, what: str, case_id: int | None = None) -> None:
        """Audit an attempt to do what the person's role (or ownership) does not allow."""
        async with self._sessions.begin() as session:
            audit(session, telegram_id, AuditAction.REFUSED, case_id, detail=what)

    async def touch_name(self, telegram_id: int, name: str) -> None:
        async with self._sessions.begin() as session:
            _rename(await session.get(StaffMember, telegram_id), name)

    async def create_invite(self, role: str, by: int) -> str:
        if role not in ROLES:
            raise ValueError(role)
        code = secrets.token_urlsafe(12)
        async with self._sessions.begin() as session:
            session.add(Invite(code=code, role=role, created_by=by))
            audit(session, by, AuditAction.INVITE, detail=role)
        return code

    async def accept_invite(self, code: str, telegram_id: int, name: str) -> str | None:
        """Use a one-time invite; the role given, or None if the link is used, revoked or
        unknown. One statement marks it used only if nobody has: two people opening it at
        the same moment cannot both pass (a read and then a write could, on PostgreSQL)."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            role = await session.scalar(
                update(Invite)
                .where(
                    Invite.code == code,
                    Invite.used_at.is_(None),
                    Invite.created_at > now - INVITE_VALID_FOR,
                )
                .values(used_by=telegram_id, used_at=now)
                .returning(Invite.role)
            )
            if role is None:
                return None
            row = await session.get(StaffMember, telegram_id)
            if row is None:
                session.add(StaffMember(telegram_id=telegram_id, role=role, name=name[:64]))
            elif row.role != Role.ADMIN:
                row.role = role
            audit(session, telegram_id, AuditAction.JOINED, detail=role)
            return str(role)

    async def set_duty(self, telegram_id: int, on: bool) -> bool:
        async with self._sessions.begin() as session:
            row = await session.get(StaffMember, telegram_id)
            if row is None:
                return False
            row.on_duty = on
            audit(session, telegram_id, AuditAction.DUTY_ON if on else AuditAction.DUTY_OFF)
            return True

    async def members(self, *, on_duty: bool | None = None) -> list[Member]:
        query = select(StaffMember).order_by(StaffMember.role, StaffMember.name)
        if on_duty is not None:
            query = query.where(StaffMember.on_duty == on_duty)
        async with self._sessions() as session:
            return [member(row) for row in (await session.scalars(query)).all()]

    async def anyone_on_duty(self) -> bool:
        async with self._sessions() as session:
            return bool(await session.scalar(select(exists().where(StaffMember.on_duty))))

    async def to_ping(self, kind: str) -> list[Member]:
        """On-duty staff for a new case of this kind: its role and coordinators; if none of
        them is on duty, everyone on duty."""
        on_duty = await self.members(on_duty=True)
        wanted = {ROLE_FOR_KIND.get(CaseKind(kind), Role.COORDINATOR), Role.COORDINATOR}
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
            audit(session, by, AuditAction.ROLE_CHANGE, detail=f"{telegram_id} {role}")
            return True

    async def remove(self, telegram_id: int, by: int) -> Removal | None:
        """Take someone off the roster and revoke the unused invites they made; None for an
        admin from ADMIN_IDS (they cannot be removed). The caller bans them from the staff
        chats and records each result (`record_ban`)."""
        if telegram_id in self._admin_ids:
            return None
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(StaffMember).where(StaffMember.telegram_id == telegram_id)
            )
            revoked = await session.execute(
                delete(Invite).where(Invite.created_by == telegram_id, Invite.used_at.is_(None))
            )
            audit(
                session,
                by,
                AuditAction.REMOVE,
                detail=f"{telegram_id}, invites revoked: {affected(revoked)}",
            )
            return Removal(bool(affected(result)), affected(revoked))

    async def record_ban(
        self,
        by: int,
        telegram_id: int,
        chat_id: int,
        outcome: str,
        action: AuditAction = AuditAction.BAN,
    ) -> None:
        async with self._sessions.begin() as session:
            audit(session, by, action, detail=f"{telegram_id} in {chat_id}: {outcome}"[:200])

    async def banned_from(self, telegram_id: int) -> set[int]:
        """The staff chats the bot banned this person from (read back from the audit log,
        where `record_ban` wrote it)."""
        pattern = re.compile(rf"{telegram_id} in (-?\d+): banned")
        async with self._sessions() as session:
            details = await session.scalars(
                select(AuditEntry.detail).where(
                    AuditEntry.action == AuditAction.BAN,
                    AuditEntry.detail.startswith(f"{telegram_id} in "),
                )
            )
            return {int(m.group(1)) for d in details if d and (m := pattern.fullmatch(d))}

    async def unused_invites(self) -> list[Invite]:
        since = datetime.now(UTC) - INVITE_VALID_FOR
        query = (
            select(Invite)
            .where(Invite.used_at.is_(None), Invite.created_at > since)
            .order_by(Invite.created_at)
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def revoke_invite(self, code: str, by: int) -> bool:
        """An unused invite stops working; False if there is none by that code."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Invite).where(Invite.code == code, Invite.used_at.is_(None))
            )
            if affected(result):
                audit(session, by, AuditAction.INVITE_REVOKE, detail=code[:8] + "…")
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
            audit(
                session, by, AuditAction.ROUTE_ADD, detail=f"{kind} {category} {locale} {chat_id}"
            )
            return rule.id

    async def routes(self) -> list[RoutingRule]:
        async with self._sessions() as session:
            return list((await session.scalars(select(RoutingRule).order_by(RoutingRule.id))).all())

    async def remove_route(self, rule_id: int, by: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(RoutingRule).where(RoutingRule.id == rule_id))
            audit(session, by, AuditAction.ROUTE_REMOVE, detail=str(rule_id))
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


__all__ = ["ROLES", "Member", "Removal", "Staff", "audit", "pick_route"]
