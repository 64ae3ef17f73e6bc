"""The scrubber's corpus (tests/data/scrub_corpus.toml), how it is scored, and messages built
to make a scrubber slow. Used by tests/test_scrub.py and bench/scrub.py."""

from __future__ import annotations

import random
import re
import time
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "data" / "scrub_corpus.toml"
MESSAGE = 4096
ZERO_WIDTH = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), "")
TOKEN = re.compile(r"[^\W_]{3,}")
LABEL = re.compile(r"\[(?:phone|IIN|e-mail|username|link|card)\]")

Scrub = Callable[[str], str]


def plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text.translate(ZERO_WIDTH))


def survives(token: str, text: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(token)}(?![^\W_])", text) is not None


def caught(scrub: Scrub, text: str, secret: str) -> bool:
    """The secret is gone: not there as written, and none of its words of three letters or
    digits or more (that the rest of the message does not have anyway) is left."""
    out = scrub(text)
    if secret in out:
        return False
    rest = plain(text.replace(secret, " "))
    out = LABEL.sub(" ", plain(out))
    return not any(survives(t, out) and not survives(t, rest) for t in TOKEN.findall(plain(secret)))


@dataclass
class Score:
    secrets: int = 0
    caught: int = 0
    lookalikes: int = 0
    scrubbed: int = 0
    missed: list[str] = field(default_factory=list)
    wrongly: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.secrets

    @property
    def false_positive_rate(self) -> float:
        return self.scrubbed / self.lookalikes


def score(scrub: Scrub) -> Score:
    corpus = tomllib.loads(CORPUS.read_text(encoding="utf-8"))
    result = Score()
    for entry in corpus["positive"]:
        out = scrub(entry["text"])
        for secret in entry["secrets"]:
            result.secrets += 1
            if caught(scrub, entry["text"], secret):
                result.caught += 1
            else:
                result.missed.append(f"{entry['text']!r} -> {out!r}")
        for keep in entry.get("keep", []):  # a look-alike next to a secret
            result.lookalikes += 1
            if keep not in out:
                result.scrubbed += 1
                result.wrongly.append(f"{entry['text']!r} -> {out!r}")
    for entry in corpus["negative"]:
        result.lookalikes += 1
        out = scrub(entry["text"])
        if out != entry["text"]:
            result.scrubbed += 1
            result.wrongly.append(f"{entry['text']!r} -> {out!r}")
    return result


def slow_inputs() -> dict[str, str]:
    """4,096-character messages built against scrubbers: long runs a pattern may try from
    every position, many numbers, many almost-numbers."""
    rnd = random.Random(4096)

    def fill(unit: str) -> str:
        return (unit * (MESSAGE // len(unit) + 1))[:MESSAGE]

    digits_and_seps = "".join(rnd.choice("0123456789 -.()+") for _ in range(MESSAGE))
    groups = " ".join(
        "".join(rnd.choice("0123456789") for _ in range(rnd.choice((2, 3)))) for _ in range(1200)
    )
    words = " ".join(
        rnd.choice(["Айгерим", "мектеп", "school", "дом", "12", "2024"]) for _ in range(700)
    )
    return {
        "letters": fill("a"),
        "dotted letters": fill("a."),
        "dotted words": fill("ab.cd-"),
        "spaces": fill(" "),
        "digits": fill("1"),
        "spaced digits": fill("1 "),
        "dashed digits": fill("1-"),
        "dashes and underscores": fill("-_"),
        "digits, letters, dashes, dots": fill("1-a."),
        "random digits and separators": digits_and_seps[:MESSAGE],
        "random 2-3 digit groups": groups[:MESSAGE],
        "phone numbers": fill("8 701 123 45 67 "),
        "IINs": fill("950101 300123 "),
        "at signs": fill("a@"),
        "e-mail-like": fill("aa.bb@cc"),
        "handles": fill("@aigerim_99 "),
        "links": fill("https://t.me/x "),
        "hosts": fill("t.me/"),
        "plus signs": fill("+"),
        "brackets": fill("(1)"),
        "network words": fill("инста "),
        "zero-width": fill("8\u200b"),
        "full-width": fill("８７０１"),
        "prose": (words * 2)[:MESSAGE],
    }


def worst_time(scrub: Scrub, repeat: int = 3) -> tuple[float, str]:
    worst, name = 0.0, ""
    for label, text in slow_inputs().items():
        assert len(text) == MESSAGE, label
        best = min(_timed(scrub, text) for _ in range(repeat))
        if best > worst:
            worst, name = best, label
    return worst, name


def _timed(scrub: Scrub, text: str) -> float:
    """The CPU time it takes (this thread's): the event loop waits for that much. Not the
    wall clock, which counts the time other processes had the CPU (the suite runs six at
    once on two cores, and a slow message measured 58 ms there that costs a fraction)."""
    started = time.thread_time()
    scrub(text)
    return time.thread_time() - started
