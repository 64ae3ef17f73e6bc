"""Remove contact details from free text before it is stored or shown (docs/safety.md, rule 6).

People write contacts every way a keyboard allows: `7011234567`, `8 (701) 555 12 34`,
`+7 701 123-45-67`, an IIN as `950101 300123`, full-width digits, en dashes, zero-width spaces
pasted from another app, `tg://resolve?domain=…`, `t.me/…`, `site.kz`. So the text is first
normalised (NFKC, zero-width characters dropped, dashes, slashes and dots unified), contacts are
found in the normalised text, and the spans found are replaced in the text as it was written
(outside them nothing the person wrote changes).

Phone numbers are recognised by `phonenumbers` (Google's libphonenumber metadata: which numbers
exist in Kazakhstan and the countries people call from). What no library does is written here:
finding the runs of digits a number may hide in (a run may hold two numbers, or a number and a
sum), IINs, e-mails, handles and links.

Time per message is linear in its length: every pattern is anchored by a lookbehind so that a
match can only start where a run of its characters starts, no pattern has two ways to match the
same text, and the number of phone checks per message is capped (past the cap every long run of
digits is removed, which errs on the side of the person).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata

# Kazakhstan and the countries people in Kazakhstan call from or are called from; a number
# written with "+" is recognised for any country.
REGIONS = ("KZ", "RU", "KG", "UZ", "TJ", "TM", "CN", "TR")
# A phone has 7 to 15 digits (E.164), an IIN exactly 12, a payment card (Kaspi Gold and the
# like, tied to the holder's name) 16.
SHORTEST_PHONE, LONGEST_PHONE, IIN_DIGITS, CARD_DIGITS = 7, 15, 12, 16
# Phone checks (one `phonenumbers.parse` each, about 15 µs) allowed per message.
CHECK_BUDGET = 1500

_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"),
    "",
)
# What NFKC leaves alone but people use for the same thing.
_UNIFY = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b", "-"),
    **dict.fromkeys("\u2044\u2215\u29f8\u29f5", "/"),
    **dict.fromkeys("\u3002\u2219\u00b7", "."),
}

# Top-level domains a bare link may end in. Country domains of the region and of the places
# people study and work, and the generic ones seen in practice; not those that are common
# words ("in", "it", "to", "no", "at", "us", "am": "I went home.It was late").
TLDS = frozenset(
    """
    kz қаз рф ru su uz kg tj tm cn tr by ua az ge mn ir af pk ae sa qa kr jp de uk eu fr es pl
    cz lt lv ee fi se dk nl be ch ca au nz il eg ma vn th my sg id ph com org net edu gov info
    biz me io co app dev xyz online site shop store pro ly gl gg tv cc fm link page ai club
    top live life world news blog website space tech email chat
    """.split()  # noqa: SIM905 (words read better than a list of strings)
)

# The start of a link with a scheme: http(s), tg (Telegram), whatsapp, viber, ftp, ...
_SCHEME = re.compile(r"(?i)(?<![\w.+-])(?:https?|tg|ftp|whatsapp|viber|skype|intent)://\S+")
_WWW = re.compile(r"(?i)(?<![\w.-])www\.\S+")
# Host-like tokens (a.b, a.b.c); the last label is checked against TLDS in code. A path after
# the host belongs to the link.
_HOST = re.compile(r"(?<![\w.@/-])(?:[\w-]+\.)+[\w-]+(?::\d{1,5})?(?:/\S*)?")
# "@" also as "(at)", "[at]" or "собака" (what "@" is called in Russian).
_EMAIL = re.compile(
    r"(?i)(?<![\w.+-])[\w.+-]++\s*(?:@|\(at\)|\[at\]|собака|собачка)\s*[\w-]++(?:\.[\w-]++)+"
)
_HANDLE = re.compile(r"(?<![\w@./])@[A-Za-z0-9_][A-Za-z0-9_.]++")
# A handle without "@" right after the name of a network ("инста: aigerim_99"). Only Latin
# tokens that look like handles (with a digit, "_" or "."), or any after a colon.
_NETWORK_HANDLE = re.compile(
    r"(?i)\b(?:insta\w*|инст\w*|tiktok\w*|тикток\w*|telegram\w*|телег\w*|tg|тг|ник|nick|"
    r"login|логин|vk|вк|snap\w*|снэп\w*|снап\w*|facebook|фейсбук\w*|twitter|твиттер\w*)"
    r"(?:[ \t]*(?P<colon>[:\-])[ \t]*|(?:[ \t]+(?:в|это|is|как|as|под|ником|мой|my|"
    r"аккаунт|account|называется|деп))*+[ \t]+)"
    r"(?P<handle>[A-Za-z0-9_.]++)"
)
# Runs of digits with what people put between them: spaces, dashes, dots, brackets, slashes.
_DIGIT_RUN = re.compile(r"(?<!\d)(?:\+[ \t]*)?\(?\d(?:[ \t\-.()/]{0,3}\d)*+\)?")
_DIGITS = re.compile(r"\d+")
# A sum ("150 000 тг", "1.500.000 тенге"): groups of three after the first, then money.
_MONEY_AFTER = re.compile(
    r"(?i)[ \t]*(?:тг|тенге|теңге|₸|kzt|тнг|руб|рубл|₽|rub|сом|сум|\$|usd|долл|евро|€|eur|"
    r"млн|млрд|мың|тыс)"
)
# What makes a 5 or 6 digit group a city phone ("тел 51-23-45") rather than "10-15-20 минут".
_PHONE_WORD = re.compile(
    r"(?i)(?:тел|телефон|номер|нөмір|нөмері|звони|звонит|позвон|қоңырау|whatsapp|ватсап|"
    r"вотсап|viber|вайбер|phone|call|tel|mobile|моб|сот|үй телефоны|домашн)"
)

# "5 10 15 20 минут": what follows a count of something.
_UNIT_AFTER = re.compile(
    r"(?i)[ \t]*(?:мин|минут|час|сек|раз|лет|год|дн|день|дня|недел|месяц|кг|см|км|м\b|"
    r"жас|жыл|рет|сағат|күн|апта|ай\b|min|hour|sec|time|year|day|week|month|kg|cm|km)"
)
_IIN_WORD = re.compile(r"(?i)(?:иин|жсн|iin|инн)")

LABELS = {
    "link": "[link]",
    "e-mail": "[e-mail]",
    "username": "[username]",
    "IIN": "[IIN]",
    "phone": "[phone]",
    "card": "[card]",
}


@dataclass(frozen=True, order=True)
class Found:
    """A contact detail at [start, end) of the text as written."""

    start: int
    end: int
    kind: str


def scrub(text: str) -> str:
    """The text with every contact detail replaced by its kind, e.g. "[phone]"."""
    parts, last = [], 0
    for found in find_contacts(text):
        parts += [text[last : found.start], LABELS[found.kind]]
        last = found.end
    parts.append(text[last:])
    return "".join(parts)


def find_contacts(text: str) -> list[Found]:
    """The contact details in `text`, in order, not overlapping."""
    normal, origin = normalise(text)
    spans = [
        *_links(normal),
        *_emails(normal),
        *_handles(normal),
        *_numbers(normal),
    ]
    chosen: list[Found] = []
    # Earliest first, the longest of those starting together: a link with digits in it wins
    # over the phone number inside it.
    for start, end, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
        if chosen and start < chosen[-1].end:
            continue
        # To the end of the last character's cluster (its combining marks too).
        chosen.append(Found(origin[start], max(origin[end - 1] + 1, origin[end]), kind))
    return chosen


def normalise(text: str) -> tuple[str, list[int]]:
    """NFKC without zero-width characters, dashes and slashes unified; and for each character
    of the result, the index of the character of `text` it came from (plus the end)."""
    out: list[str] = []
    origin: list[int] = []
    cluster_start = 0
    for index in range(len(text) + 1):
        # A base character and the combining marks after it are normalised together, so that
        # "й" written as и + breve becomes one letter.
        if index < len(text) and index > cluster_start and unicodedata.combining(text[index]):
            continue
        if index > cluster_start:
            cluster = text[cluster_start:index]
            if not cluster.isascii():
                cluster = unicodedata.normalize("NFKC", cluster.translate(_ZERO_WIDTH))
                cluster = "".join(_UNIFY.get(c, c) for c in cluster)
            out.append(cluster)
            origin += [cluster_start] * len(cluster)
        cluster_start = index
    origin.append(len(text))
    return "".join(out), origin


_Span = tuple[int, int, str]
_TRAILING = ".,;:!?)]}»\"'"


def _trimmed(match: re.Match[str]) -> tuple[int, int]:
    """A link or handle at the end of a sentence does not take the full stop with it."""
    start, end = match.span()
    text = match.string
    while end > start + 1 and text[end - 1] in _TRAILING:
        end -= 1
    return start, end


def _links(text: str) -> list[_Span]:
    found = [(*_trimmed(m), "link") for m in (*_SCHEME.finditer(text), *_WWW.finditer(text))]
    for match in _HOST.finditer(text):
        host = match.group(0).split("/", 1)[0].split(":", 1)[0]
        tld = host.rsplit(".", 1)[-1]
        if tld.lower() in TLDS and (tld.islower() or tld.isupper()):
            found.append((*_trimmed(match), "link"))
    return found


def _emails(text: str) -> list[_Span]:
    return [(*_trimmed(m), "e-mail") for m in _EMAIL.finditer(text)]


def _handles(text: str) -> list[_Span]:
    found = []
    for match in _HANDLE.finditer(text):
        start, end = _trimmed(match)
        if end - start >= 3:  # "@" and at least two characters
            found.append((start, end, "username"))
    for match in _NETWORK_HANDLE.finditer(text):
        handle = match.group("handle").rstrip(".")
        looks_like_one = match.group("colon") or any(c.isdigit() or c in "_." for c in handle)
        if len(handle) >= 3 and looks_like_one:
            start = match.start("handle")
            found.append((start, start + len(handle), "username"))
    return found


# -- numbers ----------------------------------------------------------------------------------


@dataclass
class _Group:
    start: int
    end: int
    digits: str


class _Budget:
    def __init__(self) -> None:
        self.left = CHECK_BUDGET


def _numbers(text: str) -> list[_Span]:
    budget = _Budget()
    found: list[_Span] = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [
            _Group(m.start() + run.start(), m.end() + run.start(), m.group(0))
            for m in _DIGITS.finditer(run.group(0))
        ]
        groups = _spelled_out(text, groups)
        if _is_sum(text, groups, run.end()) or _is_count(text, groups, run.end()):
            continue
        plus = run.group(0).startswith("+")
        found += _numbers_in_run(text, groups, plus, run.start(), budget)
    return found


def _spelled_out(text: str, groups: list[_Group]) -> list[_Group]:
    """ "8 7 0 1 2 3 4 5 6 7 8": three or more single digits in a row are read as one group
    ("2-34-56-78" keeps its first digit alone)."""
    out: list[_Group] = []
    singles: list[_Group] = []
    for before, group in zip([None, *groups], [*groups, None], strict=True):
        spaced = before is None or group is None or not text[before.end : group.start].strip()
        if group is not None and len(group.digits) == 1 and spaced:
            singles.append(group)
            continue
        if len(singles) >= 3:
            joined = "".join(g.digits for g in singles)
            out.append(_Group(singles[0].start, singles[-1].end, joined))
        else:
            out += singles
        singles = []
        if group is not None:
            out.append(group)
    return out


def _numbers_in_run(
    text: str, groups: list[_Group], plus: bool, run_start: int, budget: _Budget
) -> list[_Span]:
    """Walk the groups of digits left to right; at each, the longest window of groups that is
    an IIN, a card or a phone number is taken. Dates are stepped over whole."""
    dates = _dates(text, groups)
    found: list[_Span] = []
    i = 0
    while i < len(groups):
        taken = None if i in dates else _longest_at(text, groups, i, dates, plus and i == 0, budget)
        if taken is None:
            i += 1
            continue
        j, kind = taken
        start = run_start if plus and i == 0 else groups[i].start
        found.append((start, groups[j].end, kind))
        i = j + 1
    return found


def _longest_at(
    text: str, groups: list[_Group], i: int, dates: set[int], plus: bool, budget: _Budget
) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    digits, singles = "", 0
    for j in range(i, len(groups)):
        singles += j > i and len(groups[j].digits) == 1
        if j in dates or singles > 1:
            break  # "8 7 0 1 …" is not how a number is written; "8(727)3-17-17-17" is
        digits += groups[j].digits
        if len(digits) > CARD_DIGITS:
            break
        kind = _kind(text, groups[i : j + 1], digits, plus, budget)
        if kind is not None:
            best = (j, kind)
    return best


def _kind(text: str, window: list[_Group], digits: str, plus: bool, budget: _Budget) -> str | None:
    n = len(digits)
    if n == IIN_DIGITS and not plus and _is_iin(text, window):
        return "IIN"
    if n == CARD_DIGITS and not plus:  # mistyped or not, sixteen digits are a card
        return "card"
    if n < SHORTEST_PHONE or (n == SHORTEST_PHONE and not plus):
        return "phone" if n >= 5 and _is_city_number(text, window) else None
    if n > LONGEST_PHONE or (not plus and _is_thousands(text, window)):
        return None
    if budget.left <= 0:
        # Past the cap (a message built to be slow): any long run of digits goes.
        return "phone" if n > SHORTEST_PHONE else None
    budget.left -= 1
    return "phone" if _is_phone(digits, plus) else None


def _separators(text: str, window: list[_Group]) -> set[str]:
    return {text[a.end : b.start] for a, b in pairwise(window)}


def _is_iin(text: str, window: list[_Group]) -> bool:
    """Twelve digits: in one piece, or after the word IIN, or in groups of two or more
    starting with a date of birth (YYMMDD), as an IIN does."""
    if len(window) == 1 or _IIN_WORD.search(text, max(0, window[0].start - 25), window[0].start):
        return True
    if any(len(g.digits) < 2 for g in window):
        return False
    digits = "".join(g.digits for g in window)
    month, day = int(digits[2:4]), int(digits[4:6])
    return 1 <= month <= 12 and 1 <= day <= 31


def _dates(text: str, groups: list[_Group]) -> set[int]:
    """Indices of the groups that are dates (01.02.2024, 1/2/24, 12-05-2024, 2024-03-15) or
    hours from-to (9.00-18.00)."""
    marked: set[int] = set()
    for i in range(len(groups)):
        if i in marked:
            continue
        if _is_date(text, groups[i : i + 3]):
            marked |= {i, i + 1, i + 2}
        elif _is_time_range(text, groups[i : i + 4]):
            marked |= {i, i + 1, i + 2, i + 3}
    return marked


def _is_time_range(text: str, window: list[_Group]) -> bool:
    return (
        len(window) == 4
        and text[window[1].end : window[2].start].strip() == "-"
        and _is_time(text, window[:2])
        and _is_time(text, window[2:])
    )


def _is_time(text: str, pair: list[_Group]) -> bool:
    if _separators(text, pair) != {"."}:
        return False
    hours, minutes = pair[0].digits, pair[1].digits
    return len(hours) <= 2 and int(hours) <= 23 and len(minutes) == 2 and int(minutes) <= 59


def _is_date(text: str, window: list[_Group]) -> bool:
    if len(window) != 3:
        return False
    seps = _separators(text, window)
    if len(seps) != 1 or not seps <= {".", "/", "-"}:
        return False
    first, month, last = (g.digits for g in window)
    if len(first) == 4:  # year first
        first, last = last, first
    return (
        len(first) <= 2
        and len(month) <= 2
        and len(last) in (2, 4)
        and 1 <= int(first) <= 31
        and 1 <= int(month) <= 12
    )


def _is_sum(text: str, groups: list[_Group], end: int) -> bool:
    """ "1 500 000 тг", "100 000-150 000 тенге": money after numbers whose groups after the
    first have three digits (a range starts a new number after a dash)."""
    if _MONEY_AFTER.match(text, end) is None:
        return False
    for before, group in zip([None, *groups], groups, strict=False):
        starts_number = before is None or text[before.end : group.start].strip() == "-"
        if len(group.digits) > 3 or (len(group.digits) != 3 and not starts_number):
            return False
    return True


def _is_count(text: str, groups: list[_Group], end: int) -> bool:
    """ "5 10 15 20 минут", "3-4 раза": small numbers, then a unit."""
    return all(len(g.digits) <= 2 for g in groups) and _UNIT_AFTER.match(text, end) is not None


def _is_thousands(text: str, window: list[_Group]) -> bool:
    """ "12 345 678" is a sum, not a phone, unless a word like "тел" comes shortly before."""
    sizes = [len(g.digits) for g in window]
    if len(window) < 2 or sizes[0] > 3 or any(n != 3 for n in sizes[1:]):
        return False
    if not _separators(text, window) <= {" ", "."}:
        return False
    return not _phone_word_before(text, window[0].start)


def _phone_word_before(text: str, start: int) -> bool:
    return _PHONE_WORD.search(text, max(0, start - 30), start) is not None


def _is_city_number(text: str, window: list[_Group]) -> bool:
    """A city number without its code: 7 digits as 234-56-78, 234 56 78 or 2-34-56-78; 5 or
    6 digits (smaller towns) only with a word like "тел" shortly before."""
    digits = "".join(g.digits for g in window)
    sizes = [len(g.digits) for g in window]
    if len(window) < 3 or any(s > 3 for s in sizes) or sizes[-2:] != [2, 2]:
        return False
    return len(digits) == SHORTEST_PHONE or _phone_word_before(text, window[0].start)


@lru_cache(maxsize=4096)
def _is_phone(digits: str, plus: bool) -> bool:
    if plus:
        return _valid("+" + digits, None)
    return any(len(digits) in _LENGTHS[r] and _valid(digits, r) for r in REGIONS)


def _valid(number: str, region: str | None) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


def _lengths(region: str) -> frozenset[int]:
    """How many digits a number of `region` may have as written there: alone, after the
    trunk prefix (8 in Kazakhstan) or after the country code."""
    meta = PhoneMetadata.metadata_for_region(region)
    assert meta is not None
    assert meta.general_desc is not None
    lengths = set(meta.general_desc.possible_length)
    extra = {len(meta.national_prefix or ""), len(str(meta.country_code))}
    return frozenset(n + e for n in lengths for e in {0, *extra})


_LENGTHS = {region: _lengths(region) for region in REGIONS}


# -- file names -------------------------------------------------------------------------------

_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


def neutral_file_name(name: str | None, stem: str = "document") -> str:
    """The name a file is passed on under: `stem` and its extension, nothing of the name the
    sender gave it ("Aigerim_Nurlanovna_IIN990101300123.pdf" becomes "document.pdf")."""
    found = _EXTENSION.search(name or "")
    return f"{stem}.{found.group(1).lower()}" if found else stem
