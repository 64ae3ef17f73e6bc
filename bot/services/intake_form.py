"""The intake form as data: questions, choices and the order of steps (docs/overview.md).

Labels are English msgids marked with N_; handlers translate them for the person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.i18n import N_
from models.enums import CaseKind

# A flow left alone this long ends (docs/overview.md: 30 minutes).
FLOW_TIMEOUT = timedelta(minutes=30)

KINDS = {
    CaseKind.REPORT: N_("Report an incident"),
    CaseKind.LEGAL: N_("Legal help"),
    CaseKind.PSYCH: N_("Psychological help"),
}


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    choices: tuple[tuple[str, str], ...]
    columns: int = 1
    child_text: str | None = None  # shorter wording for a child (docs/safety.md, rule 12)
    self_text: str | None = None  # when the person asks about themself


SAFE = Question(
    "safe",
    N_(
        "Before we start: is it safe for you to write now? Check that no one can see your "
        'screen. If someone comes, press "Exit and clear chat": the chat will be cleared.'
    ),
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
            ("sogi", N_("Orientation or gender identity")),
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
    child_text=N_("Choose your region:"),
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
        "• Your request is seen by the helpline's volunteers: lawyers, psychologists and "
        "coordinators.\n"
        "• They do not see your name, username or phone number in Telegram, only what you "
        "write or attach. We remove phone numbers, e-mails and links from the text; photos "
        "and files reach the volunteers as they are, so remove from them what you do not "
        "want seen.\n"
        "• We keep your answers and the text for {retention} after the request is closed, "
        "then erase the text. To write back to you, we keep the address of this chat, "
        "encrypted.\n"
        "• If a child is in danger, we may pass the information to the police or to the "
        "guardianship bodies.\n"
        "• /forget erases the link between you and your requests at any time.\n\n"
        "Do you agree?"
    ),
    (("agree", N_("I agree")), ("refuse", N_("I do not agree"))),
    child_text=N_(
        "Before you send, read this.\n\n"
        "• Your message is read by the helpline's volunteers and coordinators: lawyers "
        "and psychologists.\n"
        "• They do not see your name or your Telegram account. Do not write your name or "
        "address if you do not want to.\n"
        "• We keep what you wrote for {retention} after we finish, then erase it.\n"
        "• If you or another child are in danger, we may tell the police or the "
        "guardianship office (people whose job is to protect children). This is to protect "
        "you.\n"
        "• /forget erases the link to you at any time.\n\n"
        "Do you agree?"
    ),
)

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
# The danger screen's two buttons (its text is the emergency numbers, not a question).
DANGER_CHOICES = frozenset({"continue", "stop"})


@dataclass
class IntakeDraft:
    """The answers of a flow in progress. Kept in the person's user_data as a plain dict
    (bot/persistence.py stores it encrypted), read back into this on every update."""

    kind: CaseKind
    key: str = ""  # the intake key: a flow sent twice makes one case
    locale: str = ""  # for the timeout note, which comes with no update to read it from
    step: str = "safe"
    category: str | None = None
    subcategory: str | None = None
    affected: str | None = None
    age_band: str | None = None
    region: str | None = None
    answer: str | None = None
    urgent: bool = False
    description: str = ""
    attachments: list[tuple[str, int]] = field(default_factory=list)
    # Documents among them, by message id: file_id and neutral name (screens/common.file_of).
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[int] = field(default_factory=list)  # message ids taken (a replay adds nothing)
    consent_at: str | None = None
    editing: bool = False  # changing one answer from the summary
    # When answers may arrive (issue 13), chosen on the summary: a choice of
    # bot/services/cases.AnswerWindow ("any" unless they choose).
    window: str = "any"
    region_page: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntakeDraft:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["kind"] = CaseKind(values.get("kind", CaseKind.REPORT))
        values["attachments"] = [(str(m), int(i)) for m, i in values.get("attachments", [])]
        return cls(**values)

    def answer_of(self, step: str) -> str | None:
        """The answer a multiple-choice step gave (for the summary)."""
        name = FIELD_OF_STEP.get(step)
        return getattr(self, name) if name else None

    @property
    def is_child(self) -> bool:
        """The person writing is under 18 (shorter wording, children's numbers first)."""
        return writes_as_child(self.affected, self.age_band)

    @property
    def children_first(self) -> bool:
        """Children's numbers first: a child writes, or the case is about a child."""
        return self.is_child or self.affected in ("my_child", "child") or self.category == "child"


def writes_as_child(affected: str | None, age_band: str | None) -> bool:
    """A child writes about themself: spoken to with ты / сен from then on (issue 14)."""
    return affected == "me" and age_band in CHILD_AGE_BANDS


def answers_of(kind: str, category: str | None = None) -> IntakeDraft:
    """A draft holding only what picks a case's questions (for labels on cards and stats)."""
    return IntakeDraft(kind=CaseKind(kind), category=category)


def question(step: str, draft: IntakeDraft) -> Question | None:
    """The multiple-choice question of a step (None for free steps)."""
    return STEPS[step].question(draft) if step in STEPS else None


def sequence(draft: IntakeDraft) -> list[str]:
    """The steps of this draft's flow, in order; it changes with the answers given."""
    steps = ["safe", "category"]
    if draft.kind == CaseKind.REPORT and draft.category in FOLLOW_UP:
        steps.append("follow")
    steps += ["affected", "age", "region", "describe", "answer", "consent", "summary"]
    return steps


def next_step(draft: IntakeDraft, step: str) -> str:
    steps = sequence(draft)
    if draft.editing:
        # Changing one answer from the summary returns there (via a new follow-up if needed).
        if step == "category" and "follow" in steps:
            return "follow"
        return "summary"
    return steps[steps.index(step) + 1]


def previous_step(draft: IntakeDraft, step: str) -> str | None:
    if step == "danger":
        return "safe"
    if step == "region" and draft.region_page == 2:
        return "region"  # back to the first page of regions
    steps = sequence(draft)
    if step not in steps:
        return None
    index = steps.index(step)
    return steps[index - 1] if index > 0 else None


# -- the step table ---------------------------------------------------------------------------


class Stop(StrEnum):
    """Why a flow ends before it is sent."""

    CANCELLED = "cancelled"
    NOT_SAFE = "not safe"  # "No, not now": ends quietly
    DANGER = "danger"  # "Someone is in danger" and then "Stop here": the numbers
    NO_CONSENT = "no consent"  # the numbers stay available


class InvalidAnswer(ValueError):
    """A value this step does not offer (an old screen's button, or a forged one)."""


# What an answer leads to: the next step's name, or why the flow stops.
Move = str | Stop


def _choice(draft: IntakeDraft, step: str, code: str) -> str:
    q = question(step, draft)
    if q is None or code not in {c for c, _ in q.choices}:
        raise InvalidAnswer(step)
    return code


def _safe(draft: IntakeDraft, code: str) -> Move:
    code = _choice(draft, "safe", code)
    return {"no": Stop.NOT_SAFE, "danger": "danger"}.get(code, "category")


def _danger(draft: IntakeDraft, code: str) -> Move:
    if code not in DANGER_CHOICES:
        raise InvalidAnswer("danger")
    if code == "stop":
        return Stop.DANGER
    draft.urgent = True
    return "category"


def _field(name: str) -> Callable[[IntakeDraft, str], Move]:
    """A step whose answer is one of its question's choices, kept in draft.<name>."""

    def apply(draft: IntakeDraft, code: str) -> Move:
        step = STEP_OF_FIELD[name]
        code = _choice(draft, step, code)
        if name == "category" and draft.category != code:
            draft.subcategory = None  # the follow-up belonged to the old category
        setattr(draft, name, code)
        draft.region_page = 1
        return next_step(draft, step)

    return apply


def _region(draft: IntakeDraft, code: str) -> Move:
    if code == MORE_REGIONS:
        draft.region_page = 2
        return "region"
    if label(REGION, code) is None:
        raise InvalidAnswer("region")
    draft.region, draft.region_page = code, 1
    return next_step(draft, "region")


def _describe(draft: IntakeDraft, code: str) -> Move:
    if code not in ("next", "keep"):  # "keep": a name or an address pointed out, kept
        raise InvalidAnswer("describe")
    return next_step(draft, "describe")


def _consent(draft: IntakeDraft, code: str) -> Move:
    if _choice(draft, "consent", code) != "agree":
        return Stop.NO_CONSENT
    draft.consent_at = datetime.now(UTC).isoformat()
    return next_step(draft, "consent")


@dataclass(frozen=True)
class Step:
    """One row of the step table: the question it asks (None: a screen of its own) and
    what an answer does to the draft."""

    question: Callable[[IntakeDraft], Question | None]
    apply: Callable[[IntakeDraft, str], Move] | None  # None: the summary, handled apart


def _none(draft: IntakeDraft) -> None:
    return None


STEP_OF_FIELD = {
    "category": "category",
    "subcategory": "follow",
    "affected": "affected",
    "age_band": "age",
    "answer": "answer",
}
FIELD_OF_STEP = {step: name for name, step in STEP_OF_FIELD.items()} | {"region": "region"}
STEPS: dict[str, Step] = {
    "safe": Step(lambda d: SAFE, _safe),
    "danger": Step(_none, _danger),
    "category": Step(lambda d: CATEGORY[d.kind], _field("category")),
    "follow": Step(lambda d: FOLLOW_UP.get(d.category or ""), _field("subcategory")),
    "affected": Step(lambda d: AFFECTED[d.kind], _field("affected")),
    "age": Step(lambda d: AGE, _field("age_band")),
    "region": Step(lambda d: REGION, _region),
    "describe": Step(_none, _describe),
    "answer": Step(lambda d: ANSWER, _field("answer")),
    "consent": Step(lambda d: CONSENT, _consent),
    "summary": Step(_none, None),
}


def answer(draft: IntakeDraft, step: str, code: str) -> Move:
    """Apply a button's answer to the draft: the next step, or why the flow stops.
    Raises InvalidAnswer for anything the step does not offer."""
    apply = STEPS[step].apply if step in STEPS else None
    if apply is None:
        raise InvalidAnswer(step)
    return apply(draft, code)


def label(q: Question, code: str | None) -> str | None:
    if code is None:
        return None
    for choice_code, text in q.choices:
        if choice_code == code:
            return text
    if q is REGION:
        return label(REGIONS, code)
    return None
