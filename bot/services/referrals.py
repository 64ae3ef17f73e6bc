"""Referrals: a volunteer suggests a service of the directory for a case, the person agrees
(choosing what may be passed on) or declines, the volunteer makes it, and after a while the
owner is reminded and the person is asked once whether they got help.

Nothing is passed on without the person's choice: a referral starts with nothing shared."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import affected
from bot.i18n import N_
from bot.services.casework import Casework, dashed
from bot.services.directory import Service, by_id, for_case
from bot.services.errors import (
    CaseClosed,
    NoReplyAddress,
    NoSuchCase,
    NotStaff,
    NotYourCase,
    Refused,
)
from bot.services.intake_form import CHILD_AGE_BANDS
from bot.services.outbox import Outbox, enqueue
from bot.services.rights import PAGES
from bot.services.staff import Staff, audit
from models import Case, OutboxMessage, Referral, ReferralStatus
from models.enums import CaseStatus

# What the person may allow to be passed on, by a one-letter code (kept in the referral and
# in the buttons); none of it is chosen for them.
SHAREABLE = {
    "t": N_("What happened (the topic)"),
    "r": N_("My region"),
    "a": N_("My age group"),
    "d": N_("What I wrote"),
}
STATUSES = {
    ReferralStatus.PROPOSED: N_("proposed"),
    ReferralStatus.AGREED: N_("agreed"),
    ReferralStatus.DECLINED: N_("declined"),
    ReferralStatus.MADE: N_("made"),
    ReferralStatus.HELP_RECEIVED: N_("got help"),
    ReferralStatus.NO_HELP: N_("no help"),
}
# Still waiting for the person or for the volunteer: the same service is not proposed twice.
PENDING = (ReferralStatus.PROPOSED, ReferralStatus.AGREED, ReferralStatus.MADE)
DIRECTORY_NOTICE = "directory_stale"
DIRECTORY_NOTICE_EVERY = timedelta(days=7)


class NotTheirs(Refused):
    """The referral is not this person's, or it was answered already."""


def shared_codes(codes: str) -> str:
    """Only known codes, each once, in a fixed order."""
    return "".join(code for code in SHAREABLE if code in codes)


def writes_as_child(case: Case) -> bool:
    """The person who wrote is under 18 (they are answered as a child)."""
    return case.affected == "me" and case.age_band in CHILD_AGE_BANDS


def is_child_case(case: Case) -> bool:
    return case.age_band in CHILD_AGE_BANDS or case.affected in ("my_child", "child")


@dataclass
class ReferralReport:
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)

    @property
    def asked(self) -> int:
        return self.by_status[ReferralStatus.HELP_RECEIVED] + self.by_status[ReferralStatus.NO_HELP]

    @property
    def got_help_share(self) -> float | None:
        """Of the people who answered the follow-up question, the share who got help."""
        return self.by_status[ReferralStatus.HELP_RECEIVED] / self.asked if self.asked else None


class Referrals:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        directory: Sequence[Service],
        staff: Staff,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self.directory = directory
        self._staff = staff

    async def _open_case(self, session: AsyncSession, code: str) -> Case:
        case = await session.scalar(select(Case).where(Case.code == dashed(code)))
        if case is None:
            raise NoSuchCase()
        if case.status != CaseStatus.OPEN:
            raise CaseClosed(case)
        if case.reply_to is None:
            raise NoReplyAddress(case)
        return case

    @asynccontextmanager
    async def _working_on(
        self, code: str, staff_id: int, what: str
    ) -> AsyncIterator[tuple[AsyncSession, Case]]:
        """A transaction on an open case the volunteer may work on: its owner, or anyone
        while it is free, or a coordinator or admin (the rule of casework); a refusal for
        someone else's case is audited."""
        role = await self._staff.role_of(staff_id)
        if role is None:
            raise NotStaff()
        try:
            async with self._sessions.begin() as session:
                case = await self._open_case(session, code)
                Casework._refuse_if_not_owner(case, staff_id, role)
                yield session, case
        except NotYourCase as error:
            await self._staff.refused(staff_id, f"{what} {error.code}", case_id=error.case_id)
            raise

    def choices(self, case: Case) -> list[Service]:
        """The services a volunteer may refer this case to."""
        child = is_child_case(case)
        return for_case(self.directory, case.region, case.kind, case.category, child=child)

    async def propose(self, code: str, staff_id: int, service_id: str) -> Referral:
        """Record the suggestion and queue the question to the person (in one transaction).
        Proposing a service already waiting on this case returns that referral."""
        async with self._working_on(code, staff_id, "refer") as (session, case):
            service = by_id(self.choices(case), service_id)
            if service is None:
                raise NoSuchCase(case)
            existing = await session.scalar(
                select(Referral).where(
                    Referral.case_id == case.id,
                    Referral.service == service.id,
                    Referral.status.in_(PENDING),
                )
            )
            if existing is not None:
                return existing
            referral = Referral(
                case_id=case.id, service=service.id, kind=service.kind, proposed_by=staff_id
            )
            session.add(referral)
            await session.flush()
            audit(session, staff_id, "refer", case.id, service.id)
            enqueue(session, "referral_ask", case.id, referral=referral.id)
            enqueue(session, "referral_staff", case.id, referral=referral.id, event="proposed")
        return referral

    async def send_page(self, code: str, staff_id: int, key: str) -> None:
        """Queue a rights page to the person, in their language."""
        if key not in {p.key for p in PAGES}:
            raise NoSuchCase()
        async with self._working_on(code, staff_id, "rights page") as (session, case):
            audit(session, staff_id, "rights page", case.id, key)
            enqueue(session, "rights_page", case.id, page=key)

    async def get(self, referral_id: int) -> tuple[Referral, Case] | None:
        async with self._sessions() as session:
            referral = await session.get(Referral, referral_id)
            if referral is None:
                return None
            case = await session.get(Case, referral.case_id)
            return (referral, case) if case is not None else None

    async def _persons(
        self, session: AsyncSession, pseudonym: str, referral_id: int, status: Sequence[str]
    ) -> Referral:
        referral = await session.get(Referral, referral_id, with_for_update=True)
        case = await session.get(Case, referral.case_id) if referral is not None else None
        if referral is None or case is None or case.person != pseudonym:
            raise NotTheirs()
        if referral.status not in status:
            raise NotTheirs(case)
        return referral

    async def _persons_answer(
        self,
        pseudonym: str,
        referral_id: int,
        status: Sequence[str],
        change: Callable[[Referral], None],
    ) -> Referral:
        """Change the person's own referral (in one of `status`) and tell the volunteer."""
        async with self._sessions.begin() as session:
            referral = await self._persons(session, pseudonym, referral_id, status)
            change(referral)
            enqueue(
                session,
                "referral_staff",
                referral.case_id,
                referral=referral.id,
                event=referral.status,
            )
        return referral

    async def answer(
        self,
        pseudonym: str,
        referral_id: int,
        *,
        agree: bool,
        shared: str = "",
        may_ask: bool = False,
    ) -> Referral:
        """The person's answer: agreed (with what may be passed on, and whether they may be
        asked later) or declined. Once only; the volunteer hears of it."""

        def change(referral: Referral) -> None:
            referral.status = ReferralStatus.AGREED if agree else ReferralStatus.DECLINED
            referral.shared = shared_codes(shared) if agree else ""
            referral.may_ask = may_ask and agree
            referral.answered_at = datetime.now(UTC)

        return await self._persons_answer(
            pseudonym, referral_id, (ReferralStatus.PROPOSED,), change
        )

    async def made(self, staff_id: int, referral_id: int) -> Referral:
        """The volunteer passed the referral on (only once the person agreed). Only someone
        who may work the case says so: its owner, or a coordinator or admin."""
        role = await self._staff.role_of(staff_id)
        if role is None:
            raise NotStaff()
        try:
            async with self._sessions.begin() as session:
                referral = await session.get(Referral, referral_id, with_for_update=True)
                if referral is None:
                    raise NoSuchCase()
                case = await session.get(Case, referral.case_id)
                if case is None:
                    raise NoSuchCase()
                Casework._refuse_if_not_owner(case, staff_id, role)
                if referral.status == ReferralStatus.AGREED:
                    referral.status, referral.made_at = ReferralStatus.MADE, datetime.now(UTC)
                    audit(session, staff_id, "referral made", referral.case_id, referral.service)
                return referral
        except NotYourCase as error:
            await self._staff.refused(
                staff_id, f"referral made {error.code}", case_id=error.case_id
            )
            raise

    async def got_help(self, pseudonym: str, referral_id: int, *, helped: bool) -> Referral:
        """The person's one answer to the follow-up question (only once it was asked)."""

        def change(referral: Referral) -> None:
            if referral.asked_at is None or referral.outcome_at is not None:
                raise NotTheirs()
            referral.status = ReferralStatus.HELP_RECEIVED if helped else ReferralStatus.NO_HELP
            referral.outcome_at = datetime.now(UTC)

        followed = (ReferralStatus.AGREED, ReferralStatus.MADE)
        return await self._persons_answer(pseudonym, referral_id, followed, change)

    async def follow_up_due(self, days: int, now: datetime | None = None) -> list[int]:
        """Referrals agreed `days` ago or more and not yet followed up: the owner is reminded
        in the staff chat and, if they allowed it and can still be answered, the person is
        asked once. Compare-and-set: with several instances each referral is taken once."""
        now = now or datetime.now(UTC)
        done = []
        async with self._sessions.begin() as session:
            due = (
                await session.scalars(
                    select(Referral).where(
                        Referral.status.in_((ReferralStatus.AGREED, ReferralStatus.MADE)),
                        Referral.reminded_at.is_(None),
                        Referral.answered_at <= now - timedelta(days=days),
                    )
                )
            ).all()
            for referral in due:
                case = await session.get(Case, referral.case_id)
                ask = bool(referral.may_ask and case and case.reply_to and case.person)
                claimed = await session.execute(
                    update(Referral)
                    .where(Referral.id == referral.id, Referral.reminded_at.is_(None))
                    .values(reminded_at=now, asked_at=now if ask else None)
                    .execution_options(synchronize_session=False)
                )
                if not affected(claimed):
                    continue
                enqueue(
                    session,
                    "referral_staff",
                    referral.case_id,
                    referral=referral.id,
                    event="reminder",
                )
                if ask:
                    enqueue(session, "referral_follow_up", referral.case_id, referral=referral.id)
                done.append(referral.id)
        return done

    async def wrote_as_child(self, pseudonym: str) -> bool:
        """Whether the person's latest request says they are under 18 (read, never stored:
        "Help near me" then puts children's services first)."""
        async with self._sessions() as session:
            latest = await session.scalar(
                select(Case).where(Case.person == pseudonym).order_by(Case.id.desc()).limit(1)
            )
        return latest is not None and writes_as_child(latest)

    async def of_case(self, case_id: int) -> list[Referral]:
        async with self._sessions() as session:
            query = select(Referral).where(Referral.case_id == case_id).order_by(Referral.id)
            return list((await session.scalars(query)).all())

    async def report(self, days: int, now: datetime | None = None) -> ReferralReport:
        since = (now or datetime.now(UTC)) - timedelta(days=days)
        report = ReferralReport()
        async with self._sessions() as session:
            rows = await session.execute(
                select(Referral.kind, Referral.status, func.count())
                .where(Referral.created_at >= since)
                .group_by(Referral.kind, Referral.status)
            )
            for kind, status, count in rows:
                report.by_kind[kind] += count
                report.by_status[status] += count
        return report

    async def flag_stale(
        self, stale: Sequence[Service], admins: Sequence[int], now: datetime | None = None
    ) -> int:
        """Queue, for each admin, the list of entries past their age; at most once a week
        (the last notice is the schedule: a restart does not send it again)."""
        now = now or datetime.now(UTC)
        if not stale or not admins:
            return 0
        async with self._sessions.begin() as session:
            last = await session.scalar(
                select(func.max(OutboxMessage.created_at)).where(
                    OutboxMessage.kind == DIRECTORY_NOTICE
                )
            )
            if last is not None and now - last < DIRECTORY_NOTICE_EVERY:
                return 0
            ids = [s.id for s in stale]
            for admin in admins:
                session.add(
                    OutboxMessage(
                        kind=DIRECTORY_NOTICE,
                        case_id=None,
                        payload=json.dumps({"admin": admin, "services": ids}),
                        created_at=now,
                    )
                )
        return len(admins)
