"""Outbox rows that mark a volunteer's message (issue 16): ✍ kept as a note, 👍 delivered to
the person. A reaction where the chat allows it (it is no new message, so it does not count
against the group's pace), else a short reply saying the same; a message deleted meanwhile
needs no mark. A 429 or a 5xx is tried again by the sender like any row."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from telegram import ReactionTypeEmoji, ReplyParameters
from telegram.error import BadRequest

from bot.db import Statement
from bot.services.outbox import OutboxItem
from bot.telegram_http import chat_refuses
from handlers.screens.casework import MARK_REACTIONS, mark_words

if TYPE_CHECKING:
    from bot.workers.outbox_sender import Sender

log = logging.getLogger("qorgau.delivery")
# What Telegram says of a message that is no longer there.
GONE = ("message to react not found", "message_id_invalid", "message to be replied not found")


async def staff_mark(sender: Sender, item: OutboxItem) -> list[Statement]:
    p = item.payload
    chat_id, message_id, mark = int(p["chat_id"]), int(p["message_id"]), str(p["mark"])
    try:
        await sender.bot.set_message_reaction(
            chat_id, message_id, [ReactionTypeEmoji(MARK_REACTIONS[mark])]
        )
        return []
    except BadRequest as error:
        if chat_refuses(error):
            raise  # the chat itself: the sender keeps the row and tells the admins
        if any(words in error.message.lower() for words in GONE):
            return []  # the volunteer deleted it: nothing to mark
        log.info("reaction refused (%s): marked by a reply", error.message[:60])
    try:
        await sender.bot.send_message(
            chat_id,
            mark_words(sender.staff_t, mark),
            message_thread_id=p.get("thread"),
            reply_parameters=ReplyParameters(message_id, allow_sending_without_reply=False),
        )
    except BadRequest as error:
        if chat_refuses(error):
            raise
        # Deleted between the two calls: nothing to mark.
        log.info("mark not shown (%s)", error.message[:60])
    return []


DELIVERIES: dict[str, Callable[[Sender, OutboxItem], Awaitable[list[Statement]]]] = {
    "staff_mark": staff_mark,
}
