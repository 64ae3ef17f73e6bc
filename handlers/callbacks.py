"""Every button's callback data, built and parsed in this one module.

Telegram gives a button at most 64 bytes of data and PTB's arbitrary callback data lives in
memory (a restart loses it), so buttons carry short texts: `family:field:field`. Each family
has a builder, a parser that returns None for data it does not recognise (old or forged
buttons), and the `pattern` its handler is registered with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.services.cases import AnswerWindow
from models.enums import CaseKind, RiskLevel

# Single-screen buttons: the data is the whole of it.
EXIT = "x"
MENU = "menu"
NUMBERS = "numbers"
LANGUAGE = "lang"
RIGHTS = "rights"
MY_CASES = "mycases"
SUBSCRIPTION = "sub"
ABOUT = "about"
FORGET = "forget"


def exact(data: str) -> str:
    """The pattern of a single-screen button."""
    return f"^{re.escape(data)}$"


# -- the person's private chat ----------------------------------------------------------------


def start_flow(kind: CaseKind) -> str:
    return f"m:{kind}"


START_FLOW_PATTERN = r"^m:(" + "|".join(CaseKind) + r")$"


def parse_start_flow(data: str) -> CaseKind | None:
    kind = data.removeprefix("m:")
    return CaseKind(kind) if kind in set(CaseKind) else None


def language(code: str) -> str:
    return f"lang:{code}"


LANGUAGE_CHOICE_PATTERN = r"^lang:[a-z]{2}$"


def parse_language(data: str) -> str:
    return data.removeprefix("lang:")


def rights_page(key: str) -> str:
    return f"rights:{key}"


RIGHTS_PATTERN = r"^rights(:\w+)?$"


def parse_rights_page(data: str) -> str:
    return data.removeprefix("rights").removeprefix(":")


def subscription(on: bool) -> str:
    return "sub:on" if on else "sub:off"


SUBSCRIPTION_PATTERN = r"^sub(:on|:off)?$"


def parse_subscription(data: str) -> bool | None:
    """True to subscribe, False to unsubscribe, None to show the screen."""
    return {"sub:on": True, "sub:off": False}.get(data)


def forget(confirmed: bool) -> str:
    return "forget:yes" if confirmed else "forget:no"


FORGET_ANSWER_PATTERN = r"^forget:(yes|no)$"


def close_my_case(code: str) -> str:
    return f"mc:close:{code}"


CLOSE_MY_CASE_PATTERN = r"^mc:close:[A-Z0-9-]{9}$"


def send_to_closed(code: str) -> str:
    """Send what the person just wrote to their recently closed case (it opens again)."""
    return f"mc:again:{code}"


SEND_TO_CLOSED_PATTERN = r"^mc:again:[A-Z0-9-]{9}$"


def parse_send_to_closed(data: str) -> str:
    return data.removeprefix("mc:again:")


def parse_close_my_case(data: str) -> str:
    return data.removeprefix("mc:close:")


# Safe times a person can choose when sending and in /mycases (issue 13): any time, only
# after they write first, any time without a sound, or only between two local hours ("9-13").
# The meaning of each: bot/services/cases.AnswerWindow.
ANSWER_WINDOWS = ("any", "after", "quiet", "9-13", "13-18", "18-22")


def answer_windows(code: str) -> str:
    """Show the safe times to choose from for an open case."""
    return f"mc:wins:{code}"


ANSWER_WINDOWS_PATTERN = r"^mc:wins:[A-Z0-9-]{9}$"


def parse_answer_windows(data: str) -> str:
    return data.removeprefix("mc:wins:")


def answer_window(code: str, choice: str) -> str:
    return f"mc:win:{code}:{choice}"


ANSWER_WINDOW_PATTERN = r"^mc:win:[A-Z0-9-]{9}:(any|quiet|after|\d{1,2}-\d{1,2})$"


def parse_answer_window(data: str) -> tuple[str, AnswerWindow]:
    """(code, the window chosen)."""
    code, choice = data.removeprefix("mc:win:").rsplit(":", 1)
    return code, AnswerWindow.from_choice(choice)


def rating(compact_code: str, stars: int) -> str:
    return f"r:{compact_code}:{stars}"


RATING_PATTERN = r"^r:[A-Z0-9]{8}:[1-5]$"


def parse_rating(data: str) -> tuple[str, int]:
    _, code, stars = data.split(":")
    return code, int(stars)


@dataclass(frozen=True)
class NearButton:
    """A button of "Help near me": `nr:REGION:c|a` (REGION empty for the region screen,
    `more` for its second page; `c` for a child, `a` for an adult). Plain `nr` opens it."""

    region: str = ""
    child: bool = False

    pattern = r"^nr(:[a-z_]*:[ac])?$"
    OPEN = "nr"

    @property
    def data(self) -> str:
        return f"nr:{self.region}:{'c' if self.child else 'a'}"

    @classmethod
    def parse(cls, data: str) -> NearButton | None:
        parts = data.split(":")
        if len(parts) != 3 or parts[0] != "nr" or parts[2] not in ("a", "c"):
            return None
        return cls(parts[1], parts[2] == "c")


class AnswerAction(StrEnum):
    YES = "y"  # agrees: choose what may be passed on (toggles in `shared`)
    NO = "n"  # declines
    DONE = "f"  # chosen: now may we ask later?
    KEEP = "k"  # the final answer: `shared`, and `ask` 1 or 0
    HELPED = "h"  # the follow-up: `ask` 1 (got help) or 0


@dataclass(frozen=True)
class ReferralAnswer:
    """The person's buttons about a referral: `rq:ID:action[:shared[:0|1]]`."""

    referral_id: int
    action: AnswerAction
    shared: str = ""
    flag: str = ""

    pattern = r"^rq:\d+:[ynfkh](:[a-z]*(:[01])?)?$"

    @property
    def data(self) -> str:
        tail = "".join(f":{part}" for part in (self.shared, self.flag) if part or self.flag)
        return f"rq:{self.referral_id}:{self.action}{tail}"

    @classmethod
    def parse(cls, data: str) -> ReferralAnswer | None:
        parts = data.split(":")
        if not 3 <= len(parts) <= 5 or parts[0] != "rq" or not parts[1].isdigit():
            return None
        if parts[2] not in set(AnswerAction):
            return None
        rest = [*parts[3:], "", ""]
        return cls(int(parts[1]), AnswerAction(parts[2]), rest[0], rest[1])


@dataclass(frozen=True)
class IntakeButton:
    """A button of the intake flow: the step it belongs to and the answer it gives
    (`back` and `cancel` are steps of their own; the summary has an action and a step)."""

    step: str
    value: str = ""
    extra: str = ""

    PREFIX = "i"
    pattern = r"^i:"

    @property
    def data(self) -> str:
        return ":".join(part for part in (self.PREFIX, self.step, self.value, self.extra) if part)

    @classmethod
    def parse(cls, data: str) -> IntakeButton | None:
        prefix, _, rest = data.partition(":")
        if prefix != cls.PREFIX or not rest:
            return None
        step, _, rest = rest.partition(":")
        value, _, extra = rest.partition(":")
        return cls(step, value, extra)


INTAKE_BACK = IntakeButton("back")
INTAKE_CANCEL = IntakeButton("cancel")


# -- the staff chat ---------------------------------------------------------------------------


class CardAction(StrEnum):
    TAKE = "take"
    RELEASE = "release"
    CLOSE = "close"  # shows the outcomes
    OUTCOME = "o"  # closes with the outcome chosen
    REPLY = "reply"
    CARD = "card"  # back from the outcomes to the card


@dataclass(frozen=True)
class CardButton:
    """A button under a case's card: `c:CODE:action[:outcome]` (CODE without its dash)."""

    code: str
    action: CardAction
    outcome: str = ""

    pattern = r"^c:[A-Z0-9]{8}:"
    PREFIX = "c:"

    @property
    def data(self) -> str:
        tail = f":{self.outcome}" if self.outcome else ""
        return f"c:{self.code}:{self.action}{tail}"

    @classmethod
    def parse(cls, data: str) -> CardButton | None:
        parts = data.split(":")
        if len(parts) not in (3, 4) or parts[0] != "c" or parts[2] not in set(CardAction):
            return None
        action = CardAction(parts[2])
        if (action is CardAction.OUTCOME) != (len(parts) == 4):
            return None
        return cls(parts[1], action, parts[3] if len(parts) == 4 else "")


class ReferAction(StrEnum):
    LIST = "list"  # the services this case may be referred to
    PICK = "pick"  # propose this one (`arg`: the service id)
    MADE = "made"  # the referral was passed on (`arg`: the referral id)
    PAGES = "pages"  # the rights pages a volunteer may send
    PAGE = "page"  # send this one (`arg`: its key)


@dataclass(frozen=True)
class ReferButton:
    """Referral and rights-page buttons under a card: `cr:CODE:action[:arg]`."""

    code: str
    action: ReferAction
    arg: str = ""

    pattern = r"^cr:[A-Z0-9]{8}:"
    PREFIX = "cr:"

    @property
    def data(self) -> str:
        return f"cr:{self.code}:{self.action}" + (f":{self.arg}" if self.arg else "")

    @classmethod
    def parse(cls, data: str) -> ReferButton | None:
        parts = data.split(":")
        if len(parts) not in (3, 4) or parts[0] != "cr" or parts[2] not in set(ReferAction):
            return None
        return cls(parts[1], ReferAction(parts[2]), parts[3] if len(parts) == 4 else "")


class CaseAction(StrEnum):
    PAGE = "p"  # a page of /case (`arg`: its number, 0 the newest)
    REOPEN = "reopen"  # on a closed card
    SKIP = "skip"  # released: no handover note


@dataclass(frozen=True)
class CaseButton:
    """Casework buttons (issue 16): `ck:CODE:action[:arg]` (CODE without its dash)."""

    code: str
    action: CaseAction
    arg: str = ""

    pattern = r"^ck:[A-Z0-9]{8}:"
    PREFIX = "ck:"

    @property
    def data(self) -> str:
        return f"ck:{self.code}:{self.action}" + (f":{self.arg}" if self.arg else "")

    @classmethod
    def parse(cls, data: str) -> CaseButton | None:
        parts = data.split(":")
        if len(parts) not in (3, 4) or parts[0] != "ck" or parts[2] not in set(CaseAction):
            return None
        arg = parts[3] if len(parts) == 4 else ""
        if (parts[2] == CaseAction.PAGE) != arg.isdigit():
            return None
        return cls(parts[1], CaseAction(parts[2]), arg)


class ReadyAction(StrEnum):
    LIST = "list"  # the ready answers to choose from
    PREVIEW = "p"  # show this one (`key`) before it is sent
    SEND = "s"  # send this one (`key`) to the person


@dataclass(frozen=True)
class ReadyButton:
    """Ready-answer buttons under a card: `ra:CODE:list`, `ra:CODE:p|s:KEY` (a key is at
    most 24 of a-z, 0-9 and _: 40 bytes at most)."""

    code: str
    action: ReadyAction = ReadyAction.LIST
    key: str = ""

    pattern = r"^ra:[A-Z0-9]{8}:"
    PREFIX = "ra:"

    @property
    def data(self) -> str:
        return f"ra:{self.code}:{self.action}" + (f":{self.key}" if self.key else "")

    @classmethod
    def parse(cls, data: str) -> ReadyButton | None:
        parts = data.split(":")
        if len(parts) not in (3, 4) or parts[0] != "ra" or parts[2] not in set(ReadyAction):
            return None
        action = ReadyAction(parts[2])
        key = parts[3] if len(parts) == 4 else ""
        if (action is ReadyAction.LIST) != (key == "") or not re.fullmatch(r"[a-z0-9_]{0,24}", key):
            return None
        return cls(parts[1], action, key)


@dataclass(frozen=True)
class RiskButton:
    """Risk buttons under a card: `rk:CODE` shows the levels, `rk:CODE:LEVEL` sets one."""

    code: str
    level: str = ""

    pattern = r"^rk:[A-Z0-9]{8}(:[a-z]+)?$"
    PREFIX = "rk:"

    @property
    def data(self) -> str:
        return f"rk:{self.code}" + (f":{self.level}" if self.level else "")

    @classmethod
    def parse(cls, data: str) -> RiskButton | None:
        parts = data.split(":")
        if len(parts) not in (2, 3) or parts[0] != "rk":
            return None
        level = parts[2] if len(parts) == 3 else ""
        if level and level not in set(RiskLevel):
            return None
        return cls(parts[1], level)


@dataclass(frozen=True)
class StepButton:
    """A rapid-response step under an urgent child case's card (bot/data/rapid_response.toml):
    `rr:CODE:STEP` records it as done, now, by whoever pressed."""

    code: str
    step: str

    pattern = r"^rr:[A-Z0-9]{8}:[a-z0-9_]{1,16}$"
    PREFIX = "rr:"

    @property
    def data(self) -> str:
        return f"rr:{self.code}:{self.step}"

    @classmethod
    def parse(cls, data: str) -> StepButton | None:
        parts = data.split(":")
        if len(parts) != 3 or parts[0] != "rr" or not re.fullmatch(cls.pattern, data):
            return None
        return cls(parts[1], parts[2])


# Buttons that live in staff supergroups (all others belong in private chats).
GROUP_PREFIXES = (
    CardButton.PREFIX,
    ReferButton.PREFIX,
    CaseButton.PREFIX,
    ReadyButton.PREFIX,
    RiskButton.PREFIX,
    StepButton.PREFIX,
)


# -- admins -----------------------------------------------------------------------------------


class ComposeAction(StrEnum):
    ADD = "add"
    PREVIEW = "preview"
    SEND = "send"
    SEND_NIGHT = "sendnight"  # send now although it is night (the admin confirmed)
    CANCEL = "cancel"


@dataclass(frozen=True)
class ComposeButton:
    """A button of the broadcast composer: `bc:action[:language]`."""

    action: ComposeAction
    locale: str = ""

    pattern = r"^bc:"

    @property
    def data(self) -> str:
        return f"bc:{self.action}" + (f":{self.locale}" if self.locale else "")

    @classmethod
    def parse(cls, data: str) -> ComposeButton | None:
        parts = data.split(":")
        if len(parts) not in (2, 3) or parts[0] != "bc" or parts[1] not in set(ComposeAction):
            return None
        return cls(ComposeAction(parts[1]), parts[2] if len(parts) == 3 else "")


class ProgressAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


@dataclass(frozen=True)
class ProgressButton:
    """A button under a broadcast's progress message: `bp:ID:action`."""

    broadcast_id: int
    action: ProgressAction

    pattern = r"^bp:\d+:(pause|resume|cancel)$"

    @property
    def data(self) -> str:
        return f"bp:{self.broadcast_id}:{self.action}"

    @classmethod
    def parse(cls, data: str) -> ProgressButton | None:
        parts = data.split(":")
        if len(parts) != 3 or parts[0] != "bp" or not parts[1].isdigit():
            return None
        if parts[2] not in set(ProgressAction):
            return None
        return cls(int(parts[1]), ProgressAction(parts[2]))


# -- the admin's private chat -------------------------------------------------------------------


def revoke_invite(code: str) -> str:
    """Invite codes are 16 characters of token_urlsafe: `iv:CODE` fits in 64 bytes."""
    return f"iv:{code}"


REVOKE_INVITE_PATTERN = r"^iv:[\w-]{1,40}$"


def parse_revoke_invite(data: str) -> str:
    return data.removeprefix("iv:")


# -- campaigns: scheduling, audience, and a subscriber's region -------------------------------

CAMPAIGN_TIME_PATTERN = r"^cm:time:(new|\d+)$"
CAMPAIGN_NIGHT_PATTERN = r"^cm:night:(yes|no)$"
AUDIENCE_PATTERN = r"^cm:aud"
CANCEL_CAMPAIGN_PATTERN = r"^cm:cancel:\d+$"
AUDIENCE_REGION_PREFIX = "cm:aud:region:"  # + a region code
SUBSCRIPTION_REGIONS = "sub:regions"
SUBSCRIPTION_REGION_PREFIX = "sub:region:"  # + a region code, or "none"
SUBSCRIPTION_REGION_PATTERN = r"^sub:(regions|region:\w+)$"


def campaign_time(number: int | None = None) -> str:
    """Schedule a new campaign (None) or change campaign `number`'s time."""
    return f"cm:time:{'new' if number is None else number}"


def parse_campaign_time(data: str) -> str:
    return data.removeprefix("cm:time:")


def campaign_night(confirmed: bool) -> str:
    return "cm:night:yes" if confirmed else "cm:night:no"


def audience(choice: str = "") -> str:
    """`all`, `lang:kk`, `regions`, `region:<code>`; empty: show the choices."""
    return "cm:aud" + (f":{choice}" if choice else "")


def parse_audience(data: str) -> str:
    return data.removeprefix("cm:aud").removeprefix(":")


def cancel_campaign(number: int) -> str:
    return f"cm:cancel:{number}"


def parse_cancel_campaign(data: str) -> int:
    return int(data.removeprefix("cm:cancel:"))
