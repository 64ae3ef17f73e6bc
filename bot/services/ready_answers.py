"""The library of ready answers: texts coordinators keep in kk, ru and en, which a volunteer
picks under a card and the person receives in their own language, as an answer of the
helpline (the same path, rules and history as a volunteer's own answer: casework.answering).

A starter set (greeting, safety check, what happens next, referral to 111, closing) comes
with the table (migration 0014); coordinators and admins add, edit and remove the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.casework import Casework
from bot.services.errors import AnswerExists, InvalidAnswerText, NoSuchAnswer
from bot.services.outbox import Outbox, enqueue
from bot.services.staff import audit
from models import ReadyAnswer
from models.enums import AuditAction, OutboxKind

LANGUAGES = ("kk", "ru", "en")
KEY = re.compile(r"[a-z0-9_]{1,24}")
# A text is sent whole (split only if "Helpline:" pushes it over Telegram's 4,096).
TEXT_LIMIT = 4096
# `kk: …` starts the Kazakh text, which runs to the next such line (or the end).
LANGUAGE_LINE = re.compile(r"^\s*(kk|ru|en)\s*:\s?", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    key: str
    texts: dict[str, str]

    def text(self, locale: str) -> str:
        return self.texts.get(locale) or self.texts["ru"]


@dataclass(frozen=True)
class Sent:
    code: str
    locale: str


def _answer(row: ReadyAnswer) -> Answer:
    return Answer(row.key, {"kk": row.kk, "ru": row.ru, "en": row.en})


def parse_texts(body: str) -> dict[str, str]:
    """The texts of a command's body, by language: `kk: …`, `ru: …`, `en: …`, each running
    to the next such line (so a text may have lines of its own). Text before the first
    marker, or a language given twice, is refused."""
    marks = list(LANGUAGE_LINE.finditer(body))
    if not marks or body[: marks[0].start()].strip():
        raise InvalidAnswerText("format")
    texts: dict[str, str] = {}
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        locale = mark.group(1).lower()
        if locale in texts:
            raise InvalidAnswerText("twice", locale)
        texts[locale] = body[mark.end() : after.start() if after else len(body)].strip()
    return texts


def check_key(key: str) -> str:
    key = key.strip().lower()
    if not KEY.fullmatch(key):
        raise InvalidAnswerText("key")
    return key


def check_texts(texts: dict[str, str], *, every: bool) -> None:
    """Each text given is not empty and at most TEXT_LIMIT; `every`: all three given."""
    for locale in LANGUAGES:
        text = texts.get(locale)
        if text is None:
            if every:
                raise InvalidAnswerText("missing", locale)
            continue
        if not text.strip():
            raise InvalidAnswerText("missing", locale)
        if len(text) > TEXT_LIMIT:
            raise InvalidAnswerText("long", locale, length=len(text))


class ReadyAnswers:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], casework: Casework, outbox: Outbox
    ) -> None:
        self._sessions = sessions
        self._casework = casework
        self._outbox = outbox

    async def all(self) -> list[Answer]:
        async with self._sessions() as session:
            rows = await session.scalars(select(ReadyAnswer).order_by(ReadyAnswer.key))
            return [_answer(row) for row in rows]

    async def get(self, key: str) -> Answer:
        async with self._sessions() as session:
            row = await session.get(ReadyAnswer, key.strip().lower())
            if row is None:
                raise NoSuchAnswer
            return _answer(row)

    async def add(self, key: str, texts: dict[str, str], staff_id: int) -> Answer:
        key = check_key(key)
        check_texts(texts, every=True)
        async with self._sessions.begin() as session:
            if await session.get(ReadyAnswer, key) is not None:
                raise AnswerExists
            row = ReadyAnswer(key=key, updated_by=staff_id, updated_at=datetime.now(UTC), **texts)
            session.add(row)
            audit(session, staff_id, AuditAction.ANSWER_ADD, None, key)
            return _answer(row)

    async def edit(self, key: str, texts: dict[str, str], staff_id: int) -> Answer:
        """Replace the texts given (one, two or all three languages)."""
        key = check_key(key)
        if not texts:
            raise InvalidAnswerText("format")
        check_texts(texts, every=False)
        async with self._sessions.begin() as session:
            row = await session.get(ReadyAnswer, key)
            if row is None:
                raise NoSuchAnswer
            for locale, text in texts.items():
                setattr(row, locale, text)
            row.updated_by, row.updated_at = staff_id, datetime.now(UTC)
            audit(session, staff_id, AuditAction.ANSWER_EDIT, None, f"{key}: {','.join(texts)}")
            return _answer(row)

    async def remove(self, key: str, staff_id: int) -> None:
        key = check_key(key)
        async with self._sessions.begin() as session:
            row = await session.get(ReadyAnswer, key)
            if row is None:
                raise NoSuchAnswer
            await session.delete(row)
            audit(session, staff_id, AuditAction.ANSWER_REMOVE, None, key)

    async def send(self, code: str, staff_id: int, key: str) -> Sent:
        """Queue the answer to the person of case `code` in their language, as a staff
        answer is queued (taking the case if it is free, within the volunteer's limit), with
        a copy of what they will read under the card. Written to the case's history as an
        answer naming the ready answer. The text goes as it is now: a later edit of the
        library does not change what was sent."""
        answer = await self.get(key)
        async with self._casework.answering(code, staff_id, AuditAction.REPLY) as (session, case):
            locale = case.locale if case.locale in LANGUAGES else "ru"
            text = answer.text(locale)
            enqueue(session, OutboxKind.TO_PERSON, case.id, media="text", text=text)
            enqueue(
                session, OutboxKind.ANSWER_COPY, case.id, key=answer.key, locale=locale, text=text
            )
            detail = f"ready answer {answer.key} ({locale})"
            audit(session, staff_id, AuditAction.REPLY, case.id, detail)
            sent = Sent(case.code, locale)
        return sent
