"""Documents (and videos, GIFs and audio sent as files) cross between the person and the
staff under a neutral name.

Telegram keeps a document's name when it is copied (copyMessage) or sent again by its file_id,
and a name can say who sent it ("Askar_Bekov_consultation.pdf"). So the outbox sender
downloads a document and uploads it again as "document.pdf" (the name is chosen when the
message arrives: bot/services/scrub.neutral_file_name, handlers/screens/common.file_of). Bots
may download files up to 20 MB only: a bigger one cannot be renamed and is not passed on; the
staff are told instead (bot/workers/outbox_sender.py).
"""

from __future__ import annotations

from typing import Any

from telegram import Bot, Message
from telegram.error import BadRequest

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Bot API getFile


class TooBigToRename(Exception):
    pass


async def send_renamed(bot: Bot, chat_id: int, file: dict[str, Any], **kwargs: Any) -> Message:
    """Send the document again under its neutral name (`kwargs`: caption, thread, reply)."""
    if (file.get("size") or 0) > DOWNLOAD_LIMIT:
        raise TooBigToRename
    try:
        found = await bot.get_file(file["id"])
    except BadRequest as error:
        if "too big" in error.message.lower():  # its size was not known
            raise TooBigToRename from None
        raise
    content = bytes(await found.download_as_bytearray())
    kind = file.get("kind", "document")
    if kind == "video":
        return await bot.send_video(chat_id, content, filename=file["name"], **kwargs)
    if kind == "animation":
        return await bot.send_animation(chat_id, content, filename=file["name"], **kwargs)
    # An audio file goes as a document: sent as audio, its performer and title (which Telegram
    # reads from the file's tags) would show.
    return await bot.send_document(
        chat_id, content, filename=file["name"], disable_content_type_detection=True, **kwargs
    )
