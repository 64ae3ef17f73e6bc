"""The note before the summary when a description seems to contain a name or an address.

Names and addresses cannot be scrubbed without guessing (bot/services/personal.py), so the
person is told and chooses: change the text, or keep it as it is.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.services.intake_form import IntakeDraft
from bot.services.personal import personal_hints
from handlers.callbacks import INTAKE_BACK, INTAKE_CANCEL, IntakeButton
from handlers.screens.common import Viewer, button, keyboard


def describe_pressed(
    v: Viewer, draft: IntakeDraft, code: str
) -> tuple[str, InlineKeyboardMarkup] | None:
    """The screen to show when a button of the description step is pressed, or None to go on
    to the next step ("keep", or nothing that looks like a name or an address)."""
    child = draft.is_child
    if code == "edit":
        draft.description = ""  # what the person sends next replaces it
        return edit_screen(v, draft, child)
    if code != "next" or not personal_hints(draft.description):
        return None
    if child:
        text = v._(
            "It looks like you wrote a name or an address. We do not need them to help you. "
            "You can change your text or keep it."
        )
    else:
        text = v._(
            "Your text seems to contain a name or an address. The helpline staff do not need "
            "them to help you. You can change the text or keep it as it is."
        )
    rows = [
        [button(v._("Change the text"), IntakeButton("describe", "edit").data)],
        [button(v._("Keep it"), IntakeButton("describe", "keep").data)],
    ]
    return text, keyboard(v, rows)


def edit_screen(v: Viewer, draft: IntakeDraft, child: bool) -> tuple[str, InlineKeyboardMarkup]:
    if child:
        text = v._(
            "Send your text again, without names or addresses. You can copy what you wrote "
            "above and change it."
        )
    else:
        text = v._(
            "Please send your text again, without names or addresses. What you wrote is still "
            "above: you can copy it and change it."
        )
    go_on = v._("Next") if draft.attachments else v._("Skip")
    rows = [
        [button(go_on, IntakeButton("describe", "next").data)],
        [button(v._("Back"), INTAKE_BACK.data), button(v._("Cancel"), INTAKE_CANCEL.data)],
    ]
    return text, keyboard(v, rows)
