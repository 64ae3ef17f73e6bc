"""Remove contact details from free text before it is stored or shown (SPEC safety rule 6)."""

from __future__ import annotations

import re

# Order matters: links and e-mails first (they contain @ and digits), then 12-digit IINs,
# then phone numbers (a Kazakh mobile number has 11 digits and must not eat an IIN).
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(?:https?://|www\.)\S+"), "[link]"),
    (re.compile(r"(?i)[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[e-mail]"),
    (re.compile(r"(?i)\b(?:t\.me|telegram\.me|wa\.me|vk\.com|instagram\.com)/\S+"), "[link]"),
    (
        re.compile(
            r"(?i)\b[\w-]+(?:\.[\w-]+)*\.(?:kz|қаз|ru|com|org|net|me|io|info|su)\b(?:/\S*)?"
        ),
        "[link]",
    ),
    (re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b"), "[username]"),
    (re.compile(r"(?<!\d)\d{12}(?!\d)"), "[IIN]"),
    # +7 or 8, then ten digits with spaces, dashes, dots or brackets between groups.
    (
        re.compile(
            r"(?<![\d+])(?:\+\s*7|8|7)[\s\-.()]*\d{3}[\s\-.()]*\d{3}[\s\-.]*\d{2}[\s\-.]*\d{2}(?!\d)"
        ),
        "[phone]",
    ),
    # Other international numbers: + and 8 to 15 digits.
    (re.compile(r"\+\s*\d(?:[\s\-.()]*\d){7,14}(?!\d)"), "[phone]"),
    # Local city numbers such as 2-34-56-78 or 234 56 78.
    (
        re.compile(r"(?<![\d\-])(?:\d[\s\-]\d{2}|\d{2,3})[\s\-]\d{2}[\s\-]\d{2}(?![\d\-])"),
        "[phone]",
    ),
]


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
