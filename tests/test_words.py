"""Every word a person reads is in every catalogue (issue 14).

The gettext calls are found by parsing the code with `ast`, not by running the extraction that
`make messages` runs: a keyword the extraction forgets (as `n_` once was) fails here instead of
staying invisible. Text shown to people but built outside gettext fails here too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR
from bot.services.help_numbers import load_help_numbers
from bot.settings import LOCALES

ROOT = LOCALES_DIR.parent
# Where text for people and staff is written; the rest is plumbing (settings errors go to the
# operator's terminal, migrations to the database).
SOURCES = [*sorted((ROOT / "bot").rglob("*.py")), *sorted((ROOT / "handlers").rglob("*.py"))]
SOURCES = [p for p in SOURCES if "migrations" not in p.parts]
SINGULAR = {"_", "N_", "gettext"}
PLURAL = {"n_", "ngettext"}
# Calls that put text on a screen, and which of their arguments is that text.
SHOWN = {
    "send_message": (1, "text"),
    "reply_text": (0, "text"),
    "edit_message_text": (0, "text"),
    "edit_message_caption": (None, "caption"),
    "answer": (0, "text"),
    "reply": (1, "text"),
    "show": (3, "text"),
    "send_screen": (3, "text"),
    "finish": (3, "text"),
    "button": (0, "text"),
    "InlineKeyboardButton": (0, "text"),
    "send_photo": (None, "caption"),
    "reply_photo": (None, "caption"),
    "reply_document": (None, "caption"),
    "copy_message": (None, "caption"),
    "set_title": (0, "label"),
}
# A word of three letters or more, outside placeholders, HTML tags, commands and links.
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
NOT_WORDS = re.compile(r"\{[^}]*\}|<[^>]*>|/\w+|https?://\S+|tg://\S+")


@dataclass(frozen=True)
class Found:
    where: str
    ids: tuple[str, ...]


def name_of(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def constant(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def trees() -> Iterator[tuple[str, ast.Module]]:
    for path in SOURCES:
        yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def gettext_calls() -> Iterator[tuple[str, ast.Call, str]]:
    for path, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and name_of(node) in SINGULAR | PLURAL:
                yield f"{path}:{node.lineno}", node, name_of(node)


def strings_in_code() -> list[Found]:
    found = []
    for where, call, name in gettext_calls():
        count = 2 if name in PLURAL else 1
        ids = tuple(constant(arg) for arg in call.args[:count])
        if all(ids):
            found.append(Found(where, tuple(i for i in ids if i)))
    for number in load_help_numbers():
        for text in (number.name, number.hours):
            if text:
                found.append(Found(f"help_numbers.toml {number.number}", (text,)))
    return found


def catalogue(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def test_the_code_has_gettext_calls_of_both_kinds() -> None:
    kinds = {len(f.ids) for f in strings_in_code()}
    assert kinds == {1, 2}, "the parser finds no singular or no plural calls: it is broken"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_string_in_the_code_is_translated_in_every_catalogue(locale: str) -> None:
    entries = catalogue(locale)
    forms = entries.num_plurals
    problems = []
    for found in strings_in_code():
        entry = entries.get(found.ids[0] if len(found.ids) == 1 else found.ids)
        strings = entry.string if entry is not None else None
        if entry is None or entry.fuzzy:
            problems.append(f"{found.where}: {found.ids[0]!r} not in {locale}")
        elif len(found.ids) == 2 and (
            not isinstance(strings, tuple) or len(strings) != forms or not all(strings)
        ):
            problems.append(f"{found.where}: {found.ids[0]!r} lacks {forms} plural forms")
        elif len(found.ids) == 1 and not strings:
            problems.append(f"{found.where}: {found.ids[0]!r} untranslated in {locale}")
    assert not problems, "\n".join(problems)


def test_gettext_is_given_whole_strings_not_built_ones() -> None:
    built = [
        where
        for where, call, _ in gettext_calls()
        if call.args and isinstance(call.args[0], ast.JoinedStr | ast.BinOp)
    ]
    assert built == [], "translate a whole sentence with {named} placeholders"


def is_fixed_translation(node: ast.AST) -> bool:
    """A gettext call of a literal, maybe wrapped (escape(_("Topic")))."""
    if not isinstance(node, ast.Call):
        return False
    if name_of(node) in SINGULAR | PLURAL:
        return constant(node.args[0] if node.args else None) is not None
    return any(is_fixed_translation(arg) for arg in node.args)


def has_letters(node: ast.AST) -> bool:
    text = constant(node)
    if text is None and isinstance(node, ast.JoinedStr):
        text = "".join(constant(v) or "" for v in node.values)
    return bool(text and re.search(r"[^\W\d_]|:", text))


def test_no_translated_label_is_glued_to_text_by_hand() -> None:
    """f"{_('Request')}: {value}" reads wrongly in kk: the whole line goes to gettext."""
    glued = []
    for path, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and has_letters(node):
                parts = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
                if any(is_fixed_translation(p) for p in parts):
                    glued.append(f"{path}:{node.lineno}")
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                sides = (node.left, node.right)
                if any(is_fixed_translation(s) for s in sides) and any(map(has_letters, sides)):
                    glued.append(f"{path}:{node.lineno}")
    assert not glued, "\n".join(glued)


def english_in(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    text = constant(node)
    if text is None and isinstance(node, ast.JoinedStr):
        text = "".join(constant(v) or "" for v in node.values)
    if text is None:
        return None
    word = ENGLISH_WORD.search(NOT_WORDS.sub(" ", text))
    return word.group(0) if word else None


def shown_text(call: ast.Call) -> ast.AST | None:
    position, keyword = SHOWN[name_of(call)]
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def test_no_english_literal_is_put_on_a_screen() -> None:
    literals = []
    for path, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and name_of(node) in SHOWN:
                word = english_in(shown_text(node))
                if word:
                    literals.append(f"{path}:{node.lineno}: {word!r}")
    assert not literals, "\n".join(literals)


def test_the_checks_catch_what_they_are_meant_to() -> None:
    tree = ast.parse(
        "show(u, c, v, f\"{v._('Request')}: {kind}\")\n"
        'await m.reply_text(f"Sent {n} items")\n'
        'button("Back", "b")\n'
    )
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and name_of(n) in SHOWN]
    calls.sort(key=lambda c: c.lineno)
    assert [english_in(shown_text(c)) for c in calls] == [None, "Sent", "Back"]
    joined = next(n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr))
    assert has_letters(joined) and any(
        is_fixed_translation(v.value) for v in joined.values if isinstance(v, ast.FormattedValue)
    )


# -- buttons fit a phone -------------------------------------------------------------------------

BUTTON_LIMIT = 32  # characters; longer labels are cut on a phone
SAMPLE = {"code": "K7QF-2M9X", "language": "Қазақша", "number": 123}


def button_msgids() -> set[str]:
    """Every label a button can carry: literal ones in the code, and the form's choices."""
    from bot.services import intake_form
    from bot.services.casework import OUTCOMES
    from bot.services.intake_form import AFFECTED, CATEGORY, FOLLOW_UP, SUMMARY_FIELDS, Question
    from bot.services.rights import PAGES
    from handlers.screens.common import EXIT

    labels: set[str] = set()
    for _, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and name_of(node) in ("button", "InlineKeyboardButton"):
                labels |= {
                    text
                    for inner in ast.walk(node.args[0])
                    if isinstance(inner, ast.Call) and name_of(inner) in SINGULAR
                    for text in [constant(inner.args[0] if inner.args else None)]
                    if text
                }
    form = [
        *CATEGORY.values(),
        *FOLLOW_UP.values(),
        *AFFECTED.values(),
        *(q for q in vars(intake_form).values() if isinstance(q, Question)),
    ]
    labels |= {title for q in form for _, title in q.choices}
    labels |= {title for _, title in SUMMARY_FIELDS} | {p.title for p in PAGES}
    # Labels kept in variables or tables: the quick exit and the broadcast's progress buttons.
    labels |= {EXIT, "Pause", "Resume"}
    return labels | set(OUTCOMES.values())


@pytest.mark.parametrize("locale", LOCALES)
def test_no_button_label_is_longer_than_a_phone_shows(locale: str) -> None:
    from bot.i18n import Catalogues
    from handlers.screens.common import EXIT

    t = Catalogues()[locale]
    labels = button_msgids()
    assert {"Report an incident", "Orientation or gender identity", "Close {code}", EXIT} <= labels
    long = [
        label
        for label in (t.gettext(m).format(**SAMPLE) for m in labels)
        if len(label) > BUTTON_LIMIT
    ]
    assert not long, "\n".join(long)
