"""How services say no: every refusal is an exception of ours, raised with what a handler
needs to explain it. Services return values only for success (one way, not two)."""

from __future__ import annotations

from models import Case


class Refused(Exception):
    """The rules do not allow this now; the handler tells the person or volunteer why."""

    def __init__(self, case: Case | None = None) -> None:
        super().__init__(type(self).__name__)
        self.case = case
        # Read now: the case's transaction ends (and expires it) as the error leaves it.
        self.case_id = case.id if case is not None else None
        self.code = case.code if case is not None else None
        self.owner = case.taken_by if case is not None else None  # who has it, if anyone


class NotStaff(Refused):
    """Only registered staff may do this."""


class NoSuchCase(Refused):
    """No case with that code (or a value the form does not know)."""


class CaseTaken(Refused):
    """Another volunteer has the case."""


class NotYourCase(Refused):
    """The case is taken by another volunteer: only they, a coordinator or an admin may
    answer, release or close it."""


class CaseClosed(Refused):
    """The case is closed."""


class CaseOpen(Refused):
    """The case is open (reopening is for closed cases)."""


class CaseErased(Refused):
    """Retention erased the case's free text and reply address: it stays closed."""


class NoReplyAddress(Refused):
    """The person asked not to be answered, or erased the link."""


class TooManyCases(Refused):
    """The person sent too many requests in the last hour."""


class TooManyOpen(Refused):
    """The volunteer holds MAX_OPEN_CASES_PER_VOLUNTEER open cases already (coordinators and
    admins are not counted)."""

    def __init__(self, case: Case | None = None, *, limit: int = 0) -> None:
        super().__init__(case)
        self.limit = limit


class NoSuchAnswer(Refused):
    """No ready answer with that key."""


class AnswerExists(Refused):
    """A ready answer with that key is in the library already."""


class InvalidAnswerText(Refused):
    """A ready answer's key or texts are not what the library takes (`reason` says which)."""

    def __init__(self, reason: str, locale: str = "", *, length: int = 0) -> None:
        super().__init__(None)
        self.reason, self.locale, self.length = reason, locale, length
