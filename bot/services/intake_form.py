"""The intake form as data: questions, choices and the order of steps (SPEC "Intake").

Labels are English msgids marked with N_; handlers translate them for the person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.i18n import N_

# A flow left alone this long ends (SPEC "Intake": 30 minutes).
FLOW_TIMEOUT = timedelta(minutes=30)

KINDS = {
    "report": N_("Report an incident"),
    "legal": N_("Legal help"),
    "psych": N_("Psychological help"),
}


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    choices: tuple[tuple[str, str], ...]
    columns: int = 1
    child_text: str | None = None  # shorter wording for a child (SPEC rule 12)
    self_text: str | None = None  # when the person asks about themself


SAFE = Question(
    "safe",
    N_("Before we start: is it safe for you to write now? Check that no one can see your screen."),
    (
        ("yes", N_("Yes, it is safe")),
        ("no", N_("No, not now")),
        ("danger", N_("Someone is in danger now")),
    ),
)

CATEGORY = {
    "report": Question(
        "category",
        N_("What happened?"),
        (
            ("home", N_("Violence at home")),
            ("sexual", N_("Sexual violence")),
            ("bullying", N_("Bullying or cyberbullying")),
            ("discrimination", N_("Discrimination")),
            ("child", N_("Child abuse or neglect")),
            ("trafficking", N_("Human trafficking")),
            ("other", N_("Something else")),
        ),
    ),
    "legal": Question(
        "category",
        N_("What do you need legal help with?"),
        (
            ("home", N_("Violence at home")),
            ("family", N_("Divorce, alimony or children")),
            ("bullying", N_("Bullying or cyberbullying")),
            ("discrimination", N_("Discrimination")),
            ("work", N_("Problems at work")),
            ("police", N_("Police, court or documents")),
            ("other", N_("Something else")),
        ),
    ),
    "psych": Question(
        "category",
        N_("What would you like to talk about?"),
        (
            ("violence", N_("After violence or abuse")),
            ("bullying", N_("Bullying")),
            ("family", N_("Family or relationships")),
            ("feelings", N_("Fear, stress or sadness")),
            ("other", N_("Something else")),
        ),
    ),
}

FOLLOW_UP = {
    "bullying": Question(
        "follow",
        N_("Where does it happen?"),
        (
            ("school", N_("At school")),
            ("online", N_("Online")),
            ("work", N_("At work")),
            ("other", N_("Somewhere else")),
        ),
        columns=2,
    ),
    "discrimination": Question(
        "follow",
        N_("What was it because of?"),
        (
            ("gender", N_("Gender")),
            ("ethnicity", N_("Ethnicity or nationality")),
            ("religion", N_("Religion")),
            ("disability", N_("Disability")),
            ("language", N_("Language")),
            ("age", N_("Age")),
            ("sogi", N_("Sexual orientation or gender identity")),
            ("health", N_("Health")),
            ("other", N_("Something else")),
        ),
        columns=2,
    ),
}

AFFECTED_CHOICES = (
    ("me", N_("Me")),
    ("my_child", N_("My child")),
    ("child", N_("Another child")),
    ("adult", N_("Another adult")),
)
AFFECTED = {
    "report": Question("affected", N_("Who is affected?"), AFFECTED_CHOICES, columns=2),
    "legal": Question("affected", N_("Who needs help?"), AFFECTED_CHOICES, columns=2),
    "psych": Question("affected", N_("Who needs help?"), AFFECTED_CHOICES, columns=2),
}

CHILD_AGE_BANDS = ("u14", "14_17")
AGE = Question(
    "age",
    N_("How old is the person affected?"),
    (
        ("u14", N_("Under 14")),
        ("14_17", N_("14–17")),
        ("18_29", N_("18–29")),
        ("30_59", N_("30–59")),
        ("60", N_("60 or older")),
        ("na", N_("Rather not say")),
    ),
    columns=2,
    self_text=N_("How old are you?"),
)

# The three cities of national significance first; the 17 regions one tap further.
MORE_REGIONS = "more"
REGION = Question(
    "region",
    N_("Where are you? Choose a city or a region."),
    (
        ("astana", N_("Astana")),
        ("almaty", N_("Almaty")),
        ("shymkent", N_("Shymkent")),
        (MORE_REGIONS, N_("Other regions…")),
        ("abroad", N_("Outside Kazakhstan")),
        ("na", N_("Rather not say")),
    ),
    columns=3,
    child_text=N_("Where do you live?"),
)
REGIONS = Question(
    "region",
    N_("Choose a region:"),
    (
        ("abai", N_("Abai region")),
        ("akmola", N_("Akmola region")),
        ("aktobe", N_("Aktobe region")),
        ("almaty_region", N_("Almaty region")),
        ("atyrau", N_("Atyrau region")),
        ("east", N_("East Kazakhstan")),
        ("zhambyl", N_("Zhambyl region")),
        ("zhetisu", N_("Zhetisu region")),
        ("west", N_("West Kazakhstan")),
        ("karaganda", N_("Karaganda region")),
        ("kostanay", N_("Kostanay region")),
        ("kyzylorda", N_("Kyzylorda region")),
        ("mangystau", N_("Mangystau region")),
        ("pavlodar", N_("Pavlodar region")),
        ("north", N_("North Kazakhstan")),
        ("turkistan", N_("Turkistan region")),
        ("ulytau", N_("Ulytau region")),
    ),
    columns=2,
)

ANSWER = Question(
    "answer",
    N_("May we answer you here, in this chat?"),
    (("yes", N_("Yes, answer me here")), ("no", N_("No, just record it"))),
    child_text=N_("Can we write back to you here?"),
)

CONSENT = Question(
    "consent",
    N_(
        "Before you send, please read.\n\n"
        "• We keep your answers and your description, without names or contacts, "
        "for {retention} after your request is closed.\n"
        "• Only the helpline's volunteers on duty see it: lawyers, psychologists and "
        "coordinators.\n"
        "• We do not see your name or your Telegram account. To answer you, we keep the "
        "address of this chat, encrypted.\n"
        "• If a child is in danger, we may pass the information to the police or to the "
        "guardianship bodies.\n"
        "• You can erase the link to you at any time with /forget.\n\n"
        "Do you agree?"
    ),
    (("agree", N_("I agree")), ("refuse", N_("I do not agree"))),
    child_text=N_(
        "Before you send, please read.\n\n"
        "• We keep what you wrote, without names, for {retention} after we finish.\n"
        "• Only our helpers see it: lawyers and psychologists.\n"
        "• If you or another child are in danger, we may tell the police or the "
        "guardianship bodies. This is to protect you.\n"
        "• You can erase the link to you at any time with /forget.\n\n"
        "Do you agree?"
    ),
)

# Where each multiple-choice step keeps its answer in the draft.
ANSWER_FIELD = {
    "category": "category",
    "follow": "subcategory",
    "affected": "affected",
    "age": "age_band",
    "region": "region",
    "answer": "answer",
}
QUESTIONS_BY_NAME = {"safe": SAFE, "age": AGE, "region": REGION, "answer": ANSWER}
# Steps the person can jump back to from the summary, with their labels there.
SUMMARY_FIELDS = (
    ("category", N_("Topic")),
    ("follow", N_("Details")),
    ("affected", N_("Who")),
    ("age", N_("Age")),
    ("region", N_("Region")),
    ("describe", N_("Description")),
    ("answer", N_("Answer here")),
)


def question(step: str, draft: Mapping[str, Any]) -> Question | None:
    """The multiple-choice question of a step (None for free steps)."""
    kind = draft.get("kind", "report")
    if step == "category":
        return CATEGORY[kind]
    if step == "follow":
        return FOLLOW_UP.get(draft.get("category", ""))
    if step == "affected":
        return AFFECTED[kind]
    if step == "consent":
        return CONSENT
    return QUESTIONS_BY_NAME.get(step)


def sequence(draft: Mapping[str, Any]) -> list[str]:
    """The steps of this draft's flow, in order; it changes with the answers given."""
    steps = ["safe", "category"]
    if draft.get("kind") == "report" and draft.get("category") in FOLLOW_UP:
        steps.append("follow")
    steps += ["affected", "age", "region", "describe", "answer", "consent", "summary"]
    return steps


def next_step(draft: Mapping[str, Any], step: str) -> str:
    steps = sequence(draft)
    if draft.get("editing"):
        # Changing one answer from the summary returns there (via a new follow-up if needed).
        if step == "category" and "follow" in steps:
            return "follow"
        return "summary"
    return steps[steps.index(step) + 1]


def previous_step(draft: Mapping[str, Any], step: str) -> str | None:
    steps = sequence(draft)
    if step not in steps:
        return None
    index = steps.index(step)
    return steps[index - 1] if index > 0 else None


def is_child(draft: Mapping[str, Any]) -> bool:
    """The person writing is under 18 (shorter wording, children's numbers first)."""
    return draft.get("affected") == "me" and draft.get("age_band") in CHILD_AGE_BANDS


def children_first(draft: Mapping[str, Any]) -> bool:
    """Children's numbers first: a child writes, or the case is about a child."""
    return (
        is_child(draft)
        or draft.get("affected") in ("my_child", "child")
        or draft.get("category") == "child"
    )


def label(q: Question, code: str | None) -> str | None:
    if code is None:
        return None
    for choice_code, text in q.choices:
        if choice_code == code:
            return text
    if q is REGION:
        return label(REGIONS, code)
    return None
