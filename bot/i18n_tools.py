"""Catalogue upkeep used by `make messages`: English msgids are the English text."""

from __future__ import annotations

import sys

from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LOCALES_DIR


def fill_english() -> int:
    path = LOCALES_DIR / "en" / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    filled = 0
    for message in catalog:
        if not message.id or (message.string and all(message.string)):
            continue
        message.string = message.id
        filled += 1
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100)
    return filled


if __name__ == "__main__":
    if sys.argv[1:] == ["fill-en"]:
        print(f"en: filled {fill_english()} entries")
    else:
        sys.exit("usage: python -m bot.i18n_tools fill-en")
