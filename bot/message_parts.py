"""Telegram's length limits, kept by splitting, never by cutting.

A text message holds at most 4,096 characters and a caption 1,024, counted after the HTML
markup is parsed. Nothing a person or a volunteer writes may be cut: a longer text goes as
several messages, a longer caption as a message of its own. (PTB and the Bot API offer no
splitting; this is the small piece written here.)
"""

from __future__ import annotations

import html
import re

TEXT_LIMIT = 4096
# Telegram says 1,024, but captions over 1,023 characters fail in forum topics.
CAPTION_LIMIT = 1000
_TAG = re.compile(r"<[^>]+>")


def visible_length(markup: str) -> int:
    """The length Telegram counts for an HTML-formatted text."""
    return len(html.unescape(_TAG.sub("", markup)))


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters that join back to it exactly; each part
    ends at a paragraph, a line or a word where one is near enough. [] for an empty text."""
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:  # no boundary in the second half: split mid-word
            cut = limit
        else:
            cut += 1  # the separator stays with the part before it
        parts.append(text[:cut])
        text = text[cut:]
    if text:
        parts.append(text)
    return parts
