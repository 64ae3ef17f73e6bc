"""A child is spoken to as a child, an adult as an adult, on every screen of the path (issue 14).

Once a person says they are under 18 and writing about themself, every screen after that is
in ты (ru) and сен (kk); an adult's path never slips into them. Read from what the bot sent.
"""

from __future__ import annotations

import re

import pytest

from tests.flows import tap_all, tr
from tests.harness import Harness, Person

# Polite (вы, сіз) forms: pronouns, and the endings of polite imperatives and possessives.
POLITE = {
    "ru": re.compile(r"\b(?:вы|вас|вам|вами|ваш\w*)\b|\b\w+(?:ите|йте|ьте)\b", re.IGNORECASE),
    "kk": re.compile(r"\bсіз\w*|\b\w+(?:ыңыз|іңіз|ңыз|ңіз|ыңыздар)\b", re.IGNORECASE),
}
FAMILIAR = {
    "ru": re.compile(r"\b(?:ты|тебя|тебе|тобой|твой|твоя|твоё|твои|твоего|твоей)\b", re.I),
    "kk": re.compile(r"\b(?:сен|саған|сені|сенің|сенікі)\b|\b\w+(?:ыңды|іңді|ыңа|іңе)\b", re.I),
}
BEFORE_AGE = ["Report an incident", "Yes, it is safe", "Violence at home", "Me"]


def texts_since(person: Person, since: int) -> list[str]:
    """What the person was shown (not the staff: an urgent case pings them privately)."""
    calls = person.api.calls[since:]
    sent = ("sendMessage", "editMessageText")
    return [
        str(c.params.get("text") or "")
        for c in calls
        if c.method in sent and int(c.params.get("chat_id", 0)) == person.user.id
    ]


async def walk_after_age(person: Person, locale: str, age: str) -> list[str]:
    """From the age answer to the confirmation, with every side screen; the texts shown."""
    await person.send("/start")
    await tap_all(person, BEFORE_AGE, locale)
    since = len(person.api.calls)
    await tap_all(person, [age, "Other regions…", "Ulytau region"], locale)
    await person.send("а" * 2001)
    await person.send("Мені ұрады.")
    await tap_all(person, ["Next", "Yes, answer me here", "Back", "Yes, answer me here"], locale)
    await tap_all(person, ["I agree", "Change", "Back"], locale)
    await person.tap(tr(locale, "Send"))
    return texts_since(person, since)


@pytest.mark.parametrize("locale", ["ru", "kk"])
async def test_a_child_is_spoken_to_as_a_child_on_every_screen(
    harness: Harness, locale: str
) -> None:
    child = harness.person(1801, language_code=locale)
    texts = await walk_after_age(child, locale, "Under 14")
    assert len(texts) >= 10
    polite = [(m.group(0), text[:80]) for text in texts for m in POLITE[locale].finditer(text)]
    assert not polite, polite


@pytest.mark.parametrize("locale", ["ru", "kk"])
async def test_an_adult_is_never_spoken_to_as_a_child(harness: Harness, locale: str) -> None:
    adult = harness.person(1802, language_code=locale)
    texts = await walk_after_age(adult, locale, "30–59")
    familiar = [(m.group(0), text[:80]) for text in texts for m in FAMILIAR[locale].finditer(text)]
    assert not familiar, familiar


@pytest.mark.parametrize(
    ("locale", "who", "no_name"),
    [
        ("en", "volunteers and coordinators", "do not see your name"),
        ("ru", "волонтёры и координаторы", "не видят твоё имя"),
        ("kk", "еріктілері мен үйлестірушілері", "атыңды және Telegram аккаунтыңды көрмейді"),
    ],
)
async def test_a_childs_consent_says_who_sees_it_and_that_they_do_not_see_the_name(
    harness: Harness, locale: str, who: str, no_name: str
) -> None:
    child = harness.person(1803, language_code=locale)
    await child.send("/start")
    await tap_all(child, [*BEFORE_AGE, "14–17", "Astana", "Skip", "Yes, answer me here"], locale)
    assert who in child.text and no_name in child.text
