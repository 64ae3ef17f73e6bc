"""Safe times for answers (issue 13): the words of the choice, when sending and in /mycases.

A child (under 18, writing about themself) is spoken to with ты / сен, an adult with вы / сіз
(docs/glossary.md); the labels of the choices are the person's own words, the same for both.
"""

from __future__ import annotations

from bot.services.outbox import ANSWERS_AFTER_WRITING
from handlers.screens.common import Viewer

# How long answers may arrive after the person writes, in the words of the screens.
AFTER_MINUTES = int(ANSWERS_AFTER_WRITING.total_seconds() // 60)


def window_label(v: Viewer, choice: str, *, chosen: bool = False) -> str:
    """A choice's button (marked ✓ when it is the one in force)."""
    if choice == "any":
        text = v._("Any time")
    elif choice == "quiet":
        text = v._("Any time, without sound")
    elif choice == "after":
        text = v._("Only after I write first")
    else:
        start, end = choice.split("-")
        text = v._("Only {start}:00–{end}:00").format(start=start, end=end)
    return f"✓ {text}" if chosen else text


def window_question(v: Viewer, *, child: bool) -> str:
    """What the choice means: nothing is lost, an answer at another time waits."""
    if child:
        intro = v._(
            "When can we write to you? If we write at another time, the answer is not lost: "
            "it waits and comes when your time begins (Almaty time)."
        )
        after = v.n_(
            "«Only after I write first»: our answers wait until you write here. Then they can "
            "come for {count} minute.",
            "«Only after I write first»: our answers wait until you write here. Then they can "
            "come for {count} minutes.",
            AFTER_MINUTES,
        )
    else:
        intro = v._(
            "When may our answers reach you? An answer written at another time is not lost: "
            "it waits and arrives when your hours begin (Almaty time)."
        )
        after = v.n_(
            "«Only after I write first»: answers wait until you write to us here; after that "
            "they may arrive for {count} minute.",
            "«Only after I write first»: answers wait until you write to us here; after that "
            "they may arrive for {count} minutes.",
            AFTER_MINUTES,
        )
    return f"{intro}\n\n{after.format(count=AFTER_MINUTES)}"


def window_saved(v: Viewer, code: str, *, child: bool) -> str:
    if child:
        return v._("Saved: answers to {code} will come at the time you chose.").format(code=code)
    return v._("Saved: answers to {code} will keep to your choice.").format(code=code)
