"""The entitlement's dates and states (SPEC §3), as pure functions of its facts. No I/O.

Entitlement days, used by suspensions and payouts alike: a hospital stay suspends from the
admission day through the day before discharge (the discharge day is active again); death
ends it after the day of death; enrolment ending or moving out ends it on the day before the
event's effective date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from ltc.clock import add_months, period_end
from ltc.grades import GRADE_LABELS


class EntitlementState(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ENDED = "ENDED"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    EntitlementState.ACTIVE: "享受待遇",
    EntitlementState.SUSPENDED: "暂停",
    EntitlementState.ENDED: "已终止",
}

# Why an entitlement ended; the clerk may choose the last three.
END_REASONS = {
    "expired": "有效期届满",
    "deceased": "死亡",
    "enrollment_ended": "终止参保",
    "moved_out": "迁出统筹地区",
    "reassessed": "复评后不再符合条件",
    "superseded": "复评后换发新的待遇资格",
    "recovered": "失能状况好转",
    "fraud": "欺诈骗保",
    "other": "其他原因",
}


class EndReason(StrEnum):
    expired = "expired"
    deceased = "deceased"
    enrollment_ended = "enrollment_ended"
    moved_out = "moved_out"
    reassessed = "reassessed"
    superseded = "superseded"
    recovered = "recovered"
    fraud = "fraud"
    other = "other"

    @property
    def label(self) -> str:
        return END_REASONS[self]


CLERK_END_REASONS = ("recovered", "fraud", "other")

# Enrolment events that end an entitlement, and the last active day they imply.
ENDING_EVENTS = {"deceased", "enrollment_ended", "moved_out"}


def last_day_for_event(kind: str, effective_on: date) -> date:
    """Death ends it after the day of death; the other ending events on the day before."""
    if kind == "deceased":
        return effective_on
    if kind in ENDING_EVENTS:
        return effective_on - timedelta(days=1)
    raise ValueError(f"{kind} does not end an entitlement")


def benefit_start(decided_on: date) -> date:
    """Benefits start on the first day of the month after the decision (SPEC §9)."""
    return add_months(decided_on.replace(day=1), 1)


def expiry(starts_on: date, validity_months: int) -> date:
    """The last day of validity: 24 months from 2026-12-01 is 2028-11-30."""
    return period_end(starts_on, validity_months)


def renewal_due_on(expires_on: date, lead_days: int) -> date:
    """The day the re-assessment task is raised (60 days before expiry by default)."""
    return expires_on - timedelta(days=lead_days)


@dataclass(frozen=True)
class Interval:
    """Suspended from `starts_on` (inclusive) until `resumes_on` (exclusive; None: open).
    A hospital discharge that arrived before its admission has starts_on None: it suspends
    nothing until the admission is known."""

    starts_on: date | None
    resumes_on: date | None = None

    def covers(self, day: date) -> bool:
        return (self.starts_on is not None and self.starts_on <= day
                and (self.resumes_on is None or day < self.resumes_on))


@dataclass(frozen=True)
class EntitlementFacts:
    starts_on: date
    expires_on: date
    ends_on: date | None = None
    suspensions: tuple[Interval, ...] = field(default_factory=tuple)

    @property
    def last_day(self) -> date:
        return min(self.expires_on, self.ends_on) if self.ends_on else self.expires_on


def state_on(facts: EntitlementFacts, day: date) -> EntitlementState:
    """The state on `day`. Before its first day an entitlement is ACTIVE (granted, waiting to
    start); the payout rules count only days from starts_on."""
    if day > facts.last_day:
        return EntitlementState.ENDED
    if any(s.covers(day) for s in facts.suspensions):
        return EntitlementState.SUSPENDED
    return EntitlementState.ACTIVE


def is_active_day(facts: EntitlementFacts, day: date) -> bool:
    return facts.starts_on <= day and state_on(facts, day) == EntitlementState.ACTIVE


def active_days(facts: EntitlementFacts, days: Iterable[date]) -> int:
    return sum(1 for day in days if is_active_day(facts, day))



# Where a change came from, as stored: these two are codes; the others (决定 …, 事件 …,
# an import's file) are already written for people.
SOURCE_LABELS = {"clerk": "经办员办理", "scheduler": "系统按日更新"}


def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source, source)


# --- decision events ---------------------------------------------------------------------------

# The history kinds that partners hear of (ltc.decision_events: entitlement.<kind>).
PUBLISHED_KINDS = frozenset({"started", "suspended", "resumed", "ended"})


@dataclass(frozen=True)
class EntitlementEvent:
    """The `data` of an entitlement.started / suspended / resumed / ended event: published
    when the change is recorded, with the day it takes effect (`effective_on`, possibly
    later: a suspension from next week, an end at the month's end). `state` is the state
    today after the change. An ended event adds why (`reason_code`, one of END_REASONS, and
    its label) and the last day benefits are paid for."""

    kind: str  # one of PUBLISHED_KINDS
    entitlement_id: int
    decision_number: str
    grade: int
    starts_on: date
    expires_on: date
    state: str
    effective_on: date
    reason: str  # as written in the entitlement's history
    end_reason: str = ""
    last_day: date | None = None

    def as_data(self) -> dict[str, object]:
        data: dict[str, object] = {
            "entitlement_id": self.entitlement_id, "decision_number": self.decision_number,
            "grade": self.grade, "grade_label": GRADE_LABELS[self.grade],
            "starts_on": self.starts_on.isoformat(), "expires_on": self.expires_on.isoformat(),
            "state": self.state, "state_label": EntitlementState(self.state).label,
            "effective_on": self.effective_on.isoformat(), "reason": self.reason}
        if self.kind == "ended":
            assert self.last_day is not None
            data.update(reason_code=self.end_reason, reason_label=END_REASONS[self.end_reason],
                        last_day=self.last_day.isoformat())
        return data
