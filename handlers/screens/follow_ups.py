"""What a person sees after writing to their open request."""

from __future__ import annotations

from bot.app import QorgauContext
from bot.processing import PerChatUpdateProcessor
from bot.services.cases import FOLLOW_UP_BACKLOG, FollowUp
from handlers.screens.common import Viewer

# What the person wrote outside a flow with no open case (in user_data, so in their encrypted
# draft), kept only until they choose where it goes: their recently closed case
# (handlers/flows/my_cases.py) or a new request, where it starts the description
# (handlers/flows/intake.py).
UNSENT = "unsent"

# Chats where a message of the current burst was refused, until the burst's one answer says so
# (in memory: a restart replays the unanswered updates, which refuses them again).
_refused: set[int] = set()


def follow_up_note(v: Viewer, chat_id: int, follow_up: FollowUp) -> str:
    if follow_up.added and chat_id not in _refused:
        return v._("Added to your request {code}. The helpline will see it.").format(
            code=follow_up.code
        )
    _refused.discard(chat_id)
    return v.t.ngettext(
        "You have sent a lot at once. The helpline has not yet seen {count} of your messages, "
        "so some of the last ones were not passed on. Please wait a few minutes, then send "
        "again what is missing.",
        "You have sent a lot at once. The helpline has not yet seen {count} of your messages, "
        "so some of the last ones were not passed on. Please wait a few minutes, then send "
        "again what is missing.",
        FOLLOW_UP_BACKLOG,
    ).format(count=FOLLOW_UP_BACKLOG)


def answer_now(context: QorgauContext, chat_id: int, follow_up: FollowUp) -> bool:
    """Whether to answer this follow-up: only the last of a burst is answered (Telegram lets
    the bot write about once a second in a chat; an answer to each would hold the chat)."""
    if not follow_up.added:
        _refused.add(chat_id)
    processor = context.application.update_processor
    return not (isinstance(processor, PerChatUpdateProcessor) and processor.queued(chat_id) > 1)
