""" "Help near me" from the main menu: the services of a region and the national ones, in
the person's language, children's first for a child; nothing stored about what they saw."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Base, HandledUpdate
from tests.flows import REPORT, report, tr
from tests.harness import Harness


async def row_counts(harness: Harness) -> dict[str, int]:
    """Rows of every table, but the update ids Telegram may resend (no content, pruned)."""
    assert harness.app is not None
    counts = {}
    async with harness.app.services.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name != HandledUpdate.__tablename__:
                count = await session.scalar(select(func.count()).select_from(table))
                counts[table.name] = count or 0
    return counts


async def test_an_adult_in_kazakh_sees_their_region_and_national_services(
    harness: Harness,
) -> None:
    person = harness.person(7101, language_code="kk")
    await person.send("/start")
    before = await row_counts(harness)
    await person.tap(tr("kk", "Help near me"))
    assert person.text.startswith("Жақын маңдағы көмек. Сіз қайдасыз?")
    assert f"☐ {tr('kk', 'I am under 18')}" in person.buttons
    await person.tap(tr("kk", "Other regions…"))
    await person.tap(tr("kk", "Karaganda region"))
    text = person.text
    place = tr("kk", "Karaganda region")
    assert text.startswith(
        tr("kk", "Services in {place} and for the whole country:").format(place=place)
    )
    for line in ("☎ 112", "☎ 102", "☎ 111", "Мемлекет кепілдік берген тегін заң көмегі"):
        assert line in text, line
    assert "Police" not in text and "Полиция" in text  # Kazakh names, not English
    assert "150" not in text  # unverified: never shown
    assert text.index("☎ 112") < text.index("☎ 111")  # an adult: the file's order
    await person.tap(tr("kk", "Another region"))
    await person.tap(tr("kk", "Rather not say"))
    assert person.text.startswith(tr("kk", "Services for the whole country:"))
    assert await row_counts(harness) == before  # nothing stored about what they looked at


async def test_a_child_in_russian_sees_childrens_services_first(harness: Harness) -> None:
    person = harness.person(7102, language_code="ru")
    await person.send("/start")
    before = await row_counts(harness)
    await person.tap(tr("ru", "Help near me"))
    await person.tap(f"☐ {tr('ru', 'I am under 18')}")
    assert f"☑ {tr('ru', 'I am under 18')}" in person.buttons
    await person.tap(tr("ru", "Almaty"))
    text = person.text
    assert "Алматы" in text
    assert text.index("☎ 111") < text.index("☎ 112")  # 111 takes children's calls
    assert "Контакт-центр 111" in text
    assert text.endswith(
        tr("ru", "You can call them. Or write to us: we will help you find who can help.")
    )
    # The child's choice stays on the buttons: another region keeps "under 18".
    await person.tap(tr("ru", "Another region"))
    assert f"☑ {tr('ru', 'I am under 18')}" in person.buttons
    assert await row_counts(harness) == before


async def test_a_child_who_reported_sees_under_18_already_chosen(harness: Harness) -> None:
    child = harness.person(7103, language_code="ru")
    await report(child, locale="ru", steps=[*REPORT[:5], "14–17", *REPORT[6:]])
    await child.send("/start")
    await child.tap(tr("ru", "Help near me"))
    assert f"☑ {tr('ru', 'I am under 18')}" in child.buttons
