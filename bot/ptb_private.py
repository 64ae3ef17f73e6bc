"""The only module that touches python-telegram-bot's private API, where no public way exists.

- A conversation's state has no public setter: PTB offers `refresh_user_data` for user_data
  but nothing for ConversationHandler states, which several instances must read from the
  database before an update. We write the handler's private TrackingDict without marking it
  changed (the value came from the database).
- `BaseRequest` subclasses must accept PTB's "default value" sentinels (`ODVInput`), whose
  types live in `telegram._utils`.
- getUpdates as JSON (`Bot._post`): polling that confirms only what was handled is sent the
  updates in flight again with every poll (bot/polling.py), and `Bot.get_updates` turns every
  one into objects each time: with 200 people at once that took 80 % of the bot's CPU.
  `do_api_request` would do it, but it warns for a method PTB wraps.

tests/test_ptb_private.py fails when a PTB upgrade moves or changes any of these.
"""

from __future__ import annotations

from typing import Any, cast

from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.ext import ConversationHandler
from telegram.ext._utils.trackingdict import TrackingDict

__all__ = [
    "DefaultValue",
    "JSONDict",
    "ODVInput",
    "chosen",
    "raw_updates",
    "set_conversation_state",
]

# Added to a long poll's timeout for the read (PTB adds the request's read timeout the same way).
READ_SLACK = 5.0


def chosen(value: ODVInput[float], default: float) -> float | None:
    """A request timeout: PTB's "not given" sentinel means ours."""
    return default if isinstance(value, DefaultValue) else value


def set_conversation_state(
    handler: ConversationHandler[Any], key: tuple[int, ...], state: object | None
) -> None:
    """Set (None: drop) one conversation's state without marking it changed."""
    conversations = cast(TrackingDict[tuple[int, ...], object], handler._conversations)
    if state is None:
        conversations.data.pop(key, None)
    else:
        conversations.update_no_track({key: state})


async def raw_updates(
    bot: Bot, offset: int | None, timeout: float, allowed_updates: list[str]
) -> list[JSONDict]:
    """getUpdates, as Telegram's JSON (the caller turns only the new ones into Updates)."""
    data: JSONDict = {"offset": offset, "timeout": timeout, "allowed_updates": allowed_updates}
    result = await bot._post("getUpdates", data, read_timeout=timeout + READ_SLACK)
    return cast(list[JSONDict], result)
