"""The only module that touches python-telegram-bot's private API, where no public way exists.

- A conversation's state has no public setter: PTB offers `refresh_user_data` for user_data
  but nothing for ConversationHandler states, which several instances must read from the
  database before an update. We write the handler's private TrackingDict without marking it
  changed (the value came from the database).
- `BaseRequest` subclasses must accept PTB's "default value" sentinels (`ODVInput`), whose
  types live in `telegram._utils`.

tests/test_ptb_private.py fails when a PTB upgrade moves or changes any of these.
"""

from __future__ import annotations

from typing import Any, cast

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.ext import ConversationHandler
from telegram.ext._utils.trackingdict import TrackingDict

__all__ = ["DefaultValue", "ODVInput", "chosen", "set_conversation_state"]


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
