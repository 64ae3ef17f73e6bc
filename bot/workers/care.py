"""Care for volunteers, at delivery, and the ready answer's copy under the card.

- A photo, video or GIF a person sends reaches the staff chat behind a spoiler, with a short
  note of what it is: a volunteer opens it when ready. copyMessage has no has_spoiler (Bot
  API; PTB's `copy_message` has none either), so it is sent again by its file_id with
  sendPhoto, sendVideo or sendAnimation, which take `has_spoiler`.
- Everything the bot posts in a staff chat about a case is protected from forwarding and
  saving (`protect_content`, see Sender._where and Sender._post_card).
- A ready answer (bot/services/ready_answers.py) is shown under the card as the person will
  read it, so the team sees what was said; replying to that copy answers the person.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from babel.support import Translations
from telegram import Bot, Message

from bot.db import Statement
from bot.i18n import N_
from bot.services.outbox import OutboxItem
from handlers.screens.common import LANGUAGE_NAMES

if TYPE_CHECKING:
    from bot.workers.outbox_sender import Sender

CONTENT_NOTES = {
    "photo": N_("⚠️ Photo from the person: open it with care."),
    "video": N_("⚠️ Video from the person: open it with care."),
    "animation": N_("⚠️ GIF from the person: open it with care."),
}


def content_note(t: Translations, kind: str) -> str:
    return escape(t.gettext(CONTENT_NOTES[kind]))


async def send_spoiled(bot: Bot, chat_id: int, file: dict[str, Any], **kwargs: Any) -> Message:
    """The person's photo, video or GIF again by its file_id, behind a spoiler."""
    kind, file_id = file["kind"], file["id"]
    if kind == "video":
        return await bot.send_video(chat_id, file_id, has_spoiler=True, **kwargs)
    if kind == "animation":
        return await bot.send_animation(chat_id, file_id, has_spoiler=True, **kwargs)
    return await bot.send_photo(chat_id, file_id, has_spoiler=True, **kwargs)


async def answer_copy(sender: Sender, item: OutboxItem) -> list[Statement]:
    """The ready answer as it goes to the person, under the card (linked to the case)."""
    case = await sender._ensure_card(await sender._case(item))
    assert case.staff_chat_id is not None
    p = item.payload
    language = LANGUAGE_NAMES.get(p["locale"], p["locale"])
    head = escape(sender.staff_t.gettext("📚 {code} · ready answer “{key}”, in {language}")).format(
        code=f"<b>{case.code}</b>", key=escape(p["key"]), language=language
    )
    if item.uncertain:
        head = sender._repeat_mark() + head
    ids = await sender._texts_to_staff(case, head, p["text"], "")
    return [sender.services.casework.linked(case.staff_chat_id, i, case.id) for i in ids]


DELIVERIES = {"answer_copy": answer_copy}
