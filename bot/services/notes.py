"""Staff notes and handover notes: what volunteers say among themselves about a case.

A note is kept in the case's history (case_notes, scrubbed) and never sent: nothing here
writes an outbox row for the person. The volunteer's message is marked at once ("kept as a
note"); an answer is marked once Telegram delivered it to the person (`delivered_mark`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import Bound, Handing, Statement
from bot.services.errors import NotStaff
from bot.services.outbox import Outbox, OutboxItem, enqueue, new_row
from bot.services.scrub import scrub
from bot.services.staff import Staff, audit
from models import Case, CaseNote, OutboxMessage
from models.enums import AuditAction, NoteKind, OutboxKind

# How a volunteer's message is marked (bot/workers/staff_marks.py shows it).
MARK_NOTE = "note"
MARK_DELIVERED = "delivered"
# What stands for a handover note in the audit log when there is none.
SKIPPED = "skipped"
# Rows that answer "was a handover note left on the last release?" (the newest of them).
HANDOVER_KINDS = (NoteKind.ASKED, NoteKind.HANDOVER, NoteKind.SKIPPED)


@dataclass(frozen=True)
class Note:
    id: int
    case_id: int
    kind: str
    staff_id: int
    media: str
    text: str | None
    at: datetime


def _note(row: CaseNote) -> Note:
    return Note(row.id, row.case_id, row.kind, row.staff_id, row.media, row.text, row.at)


@dataclass(frozen=True)
class Written:
    """A staff message kept: as a note, or as the handover note its author was asked for."""

    note: Note
    code: str
    owner: int | None  # who has the case now


def mark_payload(chat_id: int, message_id: int, thread: int | None, mark: str) -> dict[str, Any]:
    return {"chat_id": chat_id, "message_id": message_id, "thread": thread, "mark": mark}


# Built once (see Bound), on the table (cheaper in a session): every answer delivered runs it.
_OUTBOX = cast(Table, OutboxMessage.__table__)
_OWE_MARK = insert(_OUTBOX)
_OWE_MARK_HANDED = insert(_OUTBOX).returning(_OUTBOX.c.id)


def delivered_mark(
    payload: dict[str, Any],
    thread: int | None,
    hand_to: Callable[[OutboxItem], None] | None = None,
) -> list[Statement]:
    """The statement that owes the volunteer a "delivered" mark on their answer, written in
    the transaction that records its delivery (none for what no volunteer wrote).
    `hand_to`: the sender, which has room now: the row is claimed as it is written and
    handed over once that commits (no claim of its own; a crash first leaves it leased,
    and it goes when the lease runs out)."""
    if not payload.get("mark"):
        return []
    values = mark_payload(payload["chat_id"], payload["message_id"], thread, MARK_DELIVERED)
    row = new_row(OutboxKind.STAFF_MARK, None, values, leased=hand_to is not None)
    if hand_to is None:
        return [Bound(_OWE_MARK, row, keyed=True)]

    def handed(row_id: int) -> None:
        hand_to(OutboxItem(row_id, OutboxKind.STAFF_MARK, None, values, attempts=0))

    return [Handing(_OWE_MARK_HANDED, row, keyed=True, then=handed)]


class Notes:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], staff: Staff, outbox: Outbox
    ) -> None:
        self._sessions = sessions
        self._staff = staff
        self._outbox = outbox

    async def keep(
        self,
        case_id: int,
        staff_id: int,
        where: tuple[int, int, int | None],
        media: str,
        text: str | None,
        reply_to: int | None = None,
    ) -> Written | None:
        """Keep a staff message (`where`: its chat, id and topic) in the case's history:
        the handover note if it replies to its author's request for one, else a note. Any
        staff member may write one, on an open or a closed case. None: kept already (the
        same update seen twice)."""
        if await self._staff.role_of(staff_id) is None:
            raise NotStaff
        chat_id, message_id, thread = where
        async with self._sessions.begin() as session:
            seen = await session.scalar(
                select(CaseNote.id).where(
                    CaseNote.chat_id == chat_id, CaseNote.message_id == message_id
                )
            )
            case = await session.get(Case, case_id)
            if seen is not None or case is None:
                return None
            row = await self._asked(session, chat_id, reply_to, staff_id)
            if row is None:
                row = CaseNote(case_id=case_id, kind=NoteKind.NOTE, staff_id=staff_id)
                session.add(row)
            else:
                row.kind = NoteKind.HANDOVER
            row.chat_id, row.message_id, row.at = chat_id, message_id, datetime.now(UTC)
            row.media, row.text = media, scrub(text) if text else None
            await session.flush()
            action = AuditAction.HANDOVER if row.kind == NoteKind.HANDOVER else AuditAction.NOTE
            audit(session, staff_id, action, case_id, str(row.id))
            enqueue(
                session,
                OutboxKind.STAFF_MARK,
                None,
                **mark_payload(chat_id, message_id, thread, MARK_NOTE),
            )
            written = Written(_note(row), case.code, case.taken_by)
        return written

    @staticmethod
    async def _asked(
        session: AsyncSession, chat_id: int, reply_to: int | None, staff_id: int
    ) -> CaseNote | None:
        """The request for a handover note this message replies to, if its author was
        asked (a reply by someone else to it is a note)."""
        if reply_to is None:
            return None
        row: CaseNote | None = await session.scalar(
            select(CaseNote).where(
                CaseNote.chat_id == chat_id,
                CaseNote.message_id == reply_to,
                CaseNote.kind == NoteKind.ASKED,
                CaseNote.staff_id == staff_id,
            )
        )
        return row

    async def ask_handover(
        self, case_id: int, staff_id: int, chat_id: int, message_id: int
    ) -> None:
        """Remember that `staff_id` released the case and was asked for a handover note by
        the bot's message `message_id` (a reply to it is that note)."""
        async with self._sessions.begin() as session:
            session.add(
                CaseNote(
                    case_id=case_id,
                    kind=NoteKind.ASKED,
                    staff_id=staff_id,
                    chat_id=chat_id,
                    message_id=message_id,
                    media="text",
                )
            )

    async def skip_handover(self, case_id: int, staff_id: int) -> bool:
        """The releaser leaves no handover note; False if they were not asked for one or
        wrote it already."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(CaseNote)
                .where(
                    CaseNote.case_id == case_id,
                    CaseNote.staff_id == staff_id,
                    CaseNote.kind == NoteKind.ASKED,
                )
                .order_by(CaseNote.id.desc())
                .limit(1)
            )
            if row is None:
                return False
            row.kind, row.at = NoteKind.SKIPPED, datetime.now(UTC)
            audit(session, staff_id, AuditAction.HANDOVER, case_id, SKIPPED)
            return True

    async def handover_for(self, case_id: int) -> Note | None:
        """The handover note left on the case's last release, if one was written."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(CaseNote)
                .where(CaseNote.case_id == case_id, CaseNote.kind.in_(HANDOVER_KINDS))
                .order_by(CaseNote.id.desc())
                .limit(1)
            )
        return _note(row) if row is not None and row.kind == NoteKind.HANDOVER else None

    async def of_case(self, case_id: int) -> dict[int, Note]:
        async with self._sessions() as session:
            rows = await session.scalars(select(CaseNote).where(CaseNote.case_id == case_id))
            return {row.id: _note(row) for row in rows}
