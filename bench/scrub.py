"""Scrubber benchmark: recall and false positives on the shipped corpus, and the worst time
for one 4,096-character message (Telegram's longest) among inputs built to be slow.

    .venv/bin/python -m bench.scrub [path/to/scrub.py]

Without an argument it measures bot/services/scrub.py; with one, any file with a
`scrub(text) -> str`, e.g. the scrubber before a change:

    git show main:bot/services/scrub.py > /tmp/old_scrub.py
    .venv/bin/python -m bench.scrub /tmp/old_scrub.py
"""

from __future__ import annotations

import importlib.util
import sys

from tests.scrub_corpus import MESSAGE, Scrub, score, worst_time


def load_scrub(path: str | None) -> Scrub:
    if path is None:
        from bot.services.scrub import scrub

        return scrub
    spec = importlib.util.spec_from_file_location("scrub_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scrub: Scrub = module.scrub
    return scrub


def main() -> None:
    paths = [a for a in sys.argv[1:] if not a.startswith("-")]
    path = paths[0] if paths else None
    scrub = load_scrub(path)
    result = score(scrub)
    print(f"scrubber: {path or 'bot/services/scrub.py'}")
    print(f"recall: {result.recall:.1%} ({result.caught} of {result.secrets} contact details)")
    print(
        f"false positives: {result.false_positive_rate:.1%} "
        f"({result.scrubbed} of {result.lookalikes} look-alikes changed)"
    )
    worst, name = worst_time(scrub)
    print(f"worst time per {MESSAGE:,} characters: {worst * 1000:.1f} ms ({name})")
    if "-v" in sys.argv or "--missed" in sys.argv:
        print("\nmissed:", *result.missed, sep="\n  ")
        print("\nchanged look-alikes:", *result.wrongly, sep="\n  ")


if __name__ == "__main__":
    main()
