"""/start and the language switch, end to end over HTTP."""

from __future__ import annotations

from tests.harness import Harness


async def test_start_shows_emergency_numbers_before_anything_else(harness: Harness) -> None:
    person = harness.person(101, language_code="en")
    await person.send("/start")
    text = person.text
    first_line, *rest = text.splitlines()
    assert first_line == "If you or someone else is in danger now, call:"
    # 112, 102 and 111 come first, before any question (docs/safety.md, rule 1); the emergency
    # services (with 103, the ambulance) under "in danger now", 111 apart: it sends no one.
    numbers = [line.split()[1] for line in rest[:3]]
    assert numbers == ["112", "102", "103"]
    advice = text.split("\n\n")[1]
    assert advice.startswith("You can also call for advice and support (not an emergency")
    assert advice.splitlines()[1].startswith("☎ 111 — State contact centre")
    # 150 is marked unverified in the numbers file, so it is not shown.
    assert "150" not in text
    assert "Language" in person.buttons


async def test_start_speaks_the_persons_telegram_language(harness: Harness) -> None:
    kazakh = harness.person(102, language_code="kk")
    await kazakh.send("/start")
    assert kazakh.text.startswith("Сізге немесе басқа біреуге қазір қауіп төнсе")
    russian = harness.person(103, language_code="ru")
    await russian.send("/start")
    assert russian.text.startswith("Если вы или кто-то рядом сейчас в опасности, звоните:")


async def test_unknown_telegram_language_falls_back_to_default_locale(harness: Harness) -> None:
    person = harness.person(104, language_code="de")  # DEFAULT_LOCALE is ru in tests
    await person.send("/start")
    assert person.text.startswith("Если вы")


async def test_language_switch_is_remembered_across_restarts(harness: Harness) -> None:
    person = harness.person(105, language_code="ru")
    await person.send("/start")
    await person.tap("Язык")
    assert {"Қазақша", "Русский", "English"} <= set(person.buttons)
    await person.tap("Қазақша")
    assert person.text.startswith("Сізге немесе")

    await harness.restart()
    await person.send("/start")
    assert person.text.startswith("Сізге немесе"), "the choice of Kazakh was forgotten"


async def test_start_alone_stores_nothing_about_the_person(harness: Harness) -> None:
    from sqlalchemy import func, select

    from models import Person

    await harness.person(106).send("/start")
    assert harness.app is not None
    async with harness.app.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 0
