"""The assessment's life: states, who may act in each, and what a submission needs. No I/O.

Grading itself (scores + ruleset → grade) is in ltc.assessments.grading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ltc.clock import period_end


class AssessmentState(StrEnum):
    ASSIGNED = "ASSIGNED"  # two assessors drawn, nothing recorded yet
    IN_PROGRESS = "IN_PROGRESS"  # a draft, evidence or a signature has been saved
    SUBMITTED = "SUBMITTED"  # complete and signed by both: waiting for the reviewer
    CONCLUDED = "CONCLUDED"  # the reviewer confirmed it; grade fixed, ruleset recorded
    RETURNED = "RETURNED"  # sent back to the assessors with a reason
    CANCELLED = "CANCELLED"  # stopped before conclusion: the person died

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    AssessmentState.ASSIGNED: "待评估",
    AssessmentState.IN_PROGRESS: "评估中",
    AssessmentState.SUBMITTED: "待审核",
    AssessmentState.CONCLUDED: "已确认",
    AssessmentState.RETURNED: "已退回",
    AssessmentState.CANCELLED: "已终止",
}

# The states in which the assigned assessors may record scores, upload evidence and sign.
EDITABLE = frozenset({AssessmentState.ASSIGNED, AssessmentState.IN_PROGRESS,
                      AssessmentState.RETURNED})


def is_assessor_of(user_id: int, assessment: dict) -> bool:
    return user_id in (assessment["assessor_1"], assessment["assessor_2"])


# --- ruleset versions: which one is in force, and what superseded an older one --------------

@dataclass(frozen=True)
class RulesetVersion:
    """What the version rule needs to know of one stored version of a ruleset."""

    version: int
    state: str  # ACTIVE | PENDING (loaded, waiting for an admin to set its date)
    effective_from: date
    supersedes: int | None = None  # the version it names as superseded, with `reason`
    reason: str = ""


@dataclass(frozen=True)
class VersionStatus:
    in_force: bool
    label: str  # 现行 / 已被第2版取代 / 待启用 / 定于…起施行
    superseded_by: int | None = None  # the version that replaces (or will replace) this one
    superseded_from: date | None = None
    reason: str = ""  # why, in the words of the superseding version


def version_status(this: RulesetVersion, versions: list[RulesetVersion],
                   today: date) -> VersionStatus:
    """The status of one version among all versions of its ruleset (same code and region)."""
    if this.state != "ACTIVE":
        return VersionStatus(False, "待启用（尚未设定生效日期）")
    if this.effective_from > today:
        return VersionStatus(False, f"定于 {this.effective_from.isoformat()} 起施行")
    later = sorted((v for v in versions if v.state == "ACTIVE" and v.version > this.version
                    and v.effective_from > this.effective_from),
                   key=lambda v: (v.effective_from, v.version))
    if not later:
        return VersionStatus(True, "现行")
    started = [v for v in later if v.effective_from <= today]
    successor = started[-1] if started else later[0]
    reason = successor.reason if successor.supersedes == this.version else ""
    since = successor.effective_from.isoformat()
    if started:
        return VersionStatus(False, f"已被第{successor.version}版取代（{since}起）",
                             successor.version, successor.effective_from, reason)
    return VersionStatus(True, f"现行（将于 {since} 起被第{successor.version}版取代）",
                         successor.version, successor.effective_from, reason)


# --- validity of a conclusion (SPEC §12: at most 2 years, by grade in policy) -----------------

EXPIRING_WITHIN_DAYS = 60  # the list's default look-ahead, as the entitlement renewal lead


class Validity(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"  # still valid, ending within the look-ahead
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return {"valid": "有效", "expiring": "即将到期", "expired": "已过期"}[self.value]


def conclusion_valid_until(concluded_on: date, validity_months: int) -> date:
    """The last day a conclusion is valid: 24 months from 2026-12-04 end on 2028-12-03."""
    return period_end(concluded_on, validity_months)


def validity_on(valid_until: date, today: date, within_days: int) -> Validity:
    """Expired the day after `valid_until`; expiring from `within_days` before it."""
    if today > valid_until:
        return Validity.EXPIRED
    if (valid_until - today).days <= within_days:
        return Validity.EXPIRING
    return Validity.VALID
