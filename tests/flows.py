"""Walking a person through the intake flow by the button labels they see."""

from __future__ import annotations

from sqlalchemy import select

from bot.i18n import Catalogues
from models import Case
from tests.conftest import ADMIN_ID
from tests.harness import Harness, Person

CATALOGUES = Catalogues()

# A full report, as English msgids of the buttons a person presses, in order.
REPORT = [
    "Report an incident",
    "Yes, it is safe",
    "Bullying or cyberbullying",
    "At school",
    "Me",
    "30–59",
    "Other regions…",
    "Karaganda region",
]
AFTER_DESCRIPTION = ["Next", "Yes, answer me here", "I agree"]


def tr(locale: str, msgid: str) -> str:
    return CATALOGUES[locale].gettext(msgid)


async def tap_all(person: Person, labels: list[str], locale: str = "en") -> None:
    for label in labels:
        await person.tap(tr(locale, label))


async def report(
    person: Person,
    *,
    locale: str = "en",
    description: str | None = "They hit me at school every day.",
    steps: list[str] | None = None,
    answers: str | None = None,
) -> str:
    """A whole report, from /start to the reference code; returns the code. `answers`: the
    answer times chosen on the summary (the label of a choice), if any."""
    await person.send("/start")
    await tap_all(person, steps or REPORT, locale)
    if description:
        await person.send(description)
        await person.tap(tr(locale, "Next"))
        if tr(locale, "Keep it") in person.buttons:  # a name or an address was pointed out
            await person.tap(tr(locale, "Keep it"))
        await tap_all(person, AFTER_DESCRIPTION[1:], locale)
    else:
        await tap_all(person, ["Skip", *AFTER_DESCRIPTION[1:]], locale)
    if answers is not None:
        await tap_all(person, ["When answers may come", answers], locale)
    await person.tap(tr(locale, "Send"))
    code = code_on_screen(person.text)
    assert code, person.text
    return code


def code_on_screen(text: str) -> str | None:
    import re

    found = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", text)
    return found.group(0) if found else None


async def cases(harness: Harness) -> list[Case]:
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        return list((await session.scalars(select(Case).order_by(Case.id))).all())


async def broadcast(harness: Harness, words: str) -> None:
    """An admin sends `words` to every subscriber; returns once it went out."""
    admin = harness.volunteer(ADMIN_ID, "Admin")
    await admin.send("/broadcast")
    await admin.send(words)
    await admin.tap("Preview")
    await admin.tap("Send")
    assert harness.app is not None
    broadcasts = harness.app.services.broadcasts

    async def done() -> bool:
        return not await broadcasts.running()

    await harness.until(done)
