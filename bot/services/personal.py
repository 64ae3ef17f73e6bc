"""Does a text seem to name a person or give a street address? (docs/safety.md, rule 6)

Names and addresses cannot be removed the way phone numbers are: "Абай" is a poet, a street
and a district, "Роза" a name and a flower. So nothing is deleted here; the person is told
before sending that their text seems to contain one, and decides (handlers/intake_note.py).
The signs are ones a person's name or address has in Kazakhstan: a patronymic (-ович, -овна,
-ұлы, -қызы), a first name next to a surname (-ов, -ева, -ин, -ская, -енко...), a street
word before a name or a number (ул., көшесі, мкр, пр.), a house or flat number (дом 12,
үй 5, кв. 3).

Every pattern is anchored at the start of a word and has one way to match: linear time.
"""

from __future__ import annotations

import re
import unicodedata

_UPPER = "A-ZА-ЯЁӘҒҚҢӨҰҮҺІ"
_LOWER = "a-zа-яёәғқңөұүһі"
_CAP = rf"[{_UPPER}][{_LOWER}]+"

_PATRONYMIC = re.compile(
    rf"(?i:\b[{_LOWER}]+(?:ович|евич|овна|евна)\b)"
    rf"|\b[{_UPPER}][{_LOWER}]+(?:ична|инична)\b"
    rf"|\b[{_UPPER}][{_LOWER}]+[ \t]?(?:ұлы|қызы|улы|кызы)\b"
    rf"|\b[A-Z][a-z]+(?:ovich|evich|ovna|evna|uly|kyzy|qyzy)\b"
)
_SURNAME_END = (
    r"(?:ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ский|ская|цкий|цкая|енко|ук|юк|ян|швили|дзе"
    r"|ov|ev|ova|eva|in|ina|sky|skiy|skaya|enko|yan)"
)
# A capitalised word next to a capitalised surname, in either order.
_NAME_PAIR = re.compile(
    rf"\b{_CAP}[ \t]+[{_UPPER}][{_LOWER}]+{_SURNAME_END}\b"
    rf"|\b[{_UPPER}][{_LOWER}]+{_SURNAME_END}[ \t]+{_CAP}\b"
)
_STREET = re.compile(
    r"(?i:\b(?:ул|улиц[аеыу]|пр|пр-т|просп|проспект[аеу]?|мкр|микрорайон[аеу]?|пер"
    r"|переул[оке]+\w*|бульвар\w*|б-р|шоссе|трасса|str|street|st|avenue|ave|road|rd)"
    rf")\.?[ \t]+(?:[{_UPPER}]|\d)"
    r"|(?i:\b(?:көшесі|көш|даңғылы|шағын[ \t]?аудан\w*|ш\.а|ықшам[ \t]?аудан\w*|ж\.м)\b)"
)
_HOUSE = re.compile(
    r"(?i:\b(?:дом|д|үй|кв|квартира|пәтер|house|flat|apt|apartment)\.?[ \t]*№?[ \t]*\d+)"
)

NAME, ADDRESS = "name", "address"


def personal_hints(text: str) -> frozenset[str]:
    """ "name" and/or "address" if the text seems to contain a person's name or a street
    address; nothing if it does not."""
    text = unicodedata.normalize("NFKC", text)
    found = set()
    if _PATRONYMIC.search(text) or _NAME_PAIR.search(text):
        found.add(NAME)
    if _STREET.search(text) or _HOUSE.search(text):
        found.add(ADDRESS)
    return frozenset(found)
