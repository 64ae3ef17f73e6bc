"""The closed sets of values the schema stores as text, shared by models, services and
handlers. `StrEnum`: a member is its string, so stored rows, callback data and
comparisons with plain strings all keep working."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    LAWYER = "lawyer"
    PSYCHOLOGIST = "psychologist"


# Who may see and act on every case, on duty or not.
SENIOR_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR})


class CaseKind(StrEnum):
    REPORT = "report"
    LEGAL = "legal"
    PSYCH = "psych"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ClosedBy(StrEnum):
    STAFF = "staff"
    PERSON = "person"


class Outcome(StrEnum):
    ADVICE = "advice"
    REFERRED_111 = "ref_111"
    REFERRED_POLICE = "ref_police"
    REFERRED_CRISIS = "ref_crisis"
    LEGAL_AID = "legal_aid"
    PSYCH_SUPPORT = "psych_support"
    NO_ANSWER = "no_answer"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    IMMINENT = "imminent"


# Highest first: the order of /queue and of the risk buttons (read backwards).
RISK_LEVELS = (RiskLevel.IMMINENT, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)


class OutboxKind(StrEnum):
    CARD = "card"
    TO_STAFF = "to_staff"
    STAFF_NOTICE = "staff_notice"
    ESCALATION = "escalation"
    TO_PERSON = "to_person"
    CONFIRMATION = "confirmation"
    CLOSED_NOTICE = "closed_notice"
    STAFF_MARK = "staff_mark"  # a volunteer's message marked: delivered, or kept as a note
    ANSWER_COPY = "answer_copy"  # a ready answer as it went to the person, under the card
    # The card redrawn (what the person did, buttons that still apply) and the case's forum
    # topic closed or opened again with the case (issue 13).
    CARD_UPDATE = "card_update"


class BroadcastStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    BLOCKED = "blocked"
    FAILED = "failed"
    ERROR = "error"  # Telegram failed (5xx): tried again
    UNKNOWN = "unknown"  # no answer: may have arrived, never sent again


class AuditAction(StrEnum):
    TAKE = "take"
    RELEASE = "release"
    REPLY = "reply"
    CLOSE = "close"
    EXPORT = "export"
    BROADCAST = "broadcast"
    INVITE = "invite"
    JOINED = "joined"
    DUTY_ON = "duty on"
    DUTY_OFF = "duty off"
    ROLE_CHANGE = "role change"
    REMOVE = "remove"
    BAN = "ban"  # from a staff chat, by /remove (the detail says where and whether it worked)
    UNBAN = "unban"  # a ban lifted when they joined again by invite
    INVITE_REVOKE = "invite revoke"
    ROUTE_ADD = "route add"
    ROUTE_REMOVE = "route remove"
    REFUSED = "refused"  # someone pressed or ran what their role does not allow
    NOTE = "note"  # a staff note kept in the case's history (never sent to the person)
    HANDOVER = "handover"  # a handover note written on release (or "skipped")
    REOPEN = "reopen"  # a closed case opened again by staff
    RISK = "risk"  # a case's risk level changed (detail: "old→new")
    ANSWER_ADD = "answer add"  # the library of ready answers (detail: the answer's key)
    ANSWER_EDIT = "answer edit"
    ANSWER_REMOVE = "answer remove"


class NoteKind(StrEnum):
    """What a row of case_notes is: staff words about a case that never reach the person."""

    NOTE = "note"
    ASKED = "asked"  # released: a handover note was asked for and is not written yet
    HANDOVER = "handover"  # the handover note, written
    SKIPPED = "skipped"  # released without a handover note
