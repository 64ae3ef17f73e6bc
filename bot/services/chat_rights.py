"""What the bot needs in a staff chat, and what it lacks (no Telegram objects: the caller
passes what getChat and getChatMember said)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The administrator rights asked for in a staff chat, in the order they are listed. Deleting
# messages is used today; pinning (urgent cards) and banning (a removed volunteer taken out of
# the group) are asked for now so that an admin sets the group up once, before those land.
NEEDED_RIGHTS = ("can_delete_messages", "can_pin_messages", "can_restrict_members")
# Only in a supergroup with topics: a topic per case.
TOPIC_RIGHT = "can_manage_topics"
# What the bot lacks, besides rights: the chat is no supergroup, the bot is no admin in it.
NOT_A_SUPERGROUP = "supergroup"
NOT_AN_ADMIN = "administrator"


@dataclass(frozen=True)
class ChatStanding:
    chat_type: str  # "supergroup", "group", "private", "channel"
    is_forum: bool
    status: str  # the bot's status: "administrator", "member", "left", …
    rights: Mapping[str, bool]


def missing(standing: ChatStanding) -> list[str]:
    """Everything the bot lacks in this chat to serve as a staff chat, first things first."""
    lacking: list[str] = []
    if standing.chat_type != "supergroup":
        lacking.append(NOT_A_SUPERGROUP)
    if standing.status == "creator":
        return lacking
    if standing.status != "administrator":
        return [*lacking, NOT_AN_ADMIN]
    wanted = [*NEEDED_RIGHTS, *([TOPIC_RIGHT] if standing.is_forum else [])]
    return lacking + [right for right in wanted if not standing.rights.get(right)]
