"""Names and street addresses are pointed out to the person, never deleted by guessing."""

from __future__ import annotations

import time

import pytest

from bot.services.personal import ADDRESS, NAME, personal_hints
from tests.scrub_corpus import slow_inputs


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Меня бьёт отчим Серик Ахметов", {NAME}),
        ("Классный руководитель Айгерим Нурлановна кричит", {NAME}),
        ("Директор Бекова Айгерим знает", {NAME}),
        ("Асқар Нұрланұлы маған жазады", {NAME}),
        ("Асқар Нұрлан ұлы", {NAME}),
        ("My stepfather Askar Bekov hits me", {NAME}),
        ("Aigerim Nurlanovna from school", {NAME}),
        ("Живём ул. Абая 15", {ADDRESS}),
        ("Абай көшесі, 12 үй", {ADDRESS}),
        ("мкр Самал-2, дом 58", {ADDRESS}),
        ("үй 5, пәтер 12", {ADDRESS}),
        ("дом 12 кв 5", {ADDRESS}),
        ("пр. Назарбаева 100", {ADDRESS}),
        ("Серик Ахметов живёт на улице Абая, дом 7", {NAME, ADDRESS}),
    ],
)
def test_names_and_addresses_are_noticed(text: str, found: set[str]) -> None:
    assert personal_hints(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "Он ударил меня в 2023 году, на улице было холодно.",
        "Я пришла домой, он снова кричал.",
        "Мне 15 лет, школа №25, кабинет 305.",
        "Я живу в Алматы, Казахстан.",
        "Ол мені мектепте ұрды.",
        "It happened at school. It was late.",
        "Это типична ситуация для нашего класса.",
    ],
)
def test_ordinary_words_are_not_taken_for_one(text: str) -> None:
    assert personal_hints(text) == frozenset()


def test_time_stays_linear() -> None:
    worst = 0.0
    for text in slow_inputs().values():
        started = time.thread_time()  # CPU time: not the time other processes had the CPU
        personal_hints(text)
        worst = max(worst, time.thread_time() - started)
    assert worst < 0.05
