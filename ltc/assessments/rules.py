"""The assessment's life: states, who may act in each, and what a submission needs. No I/O.

Grading itself (scores + ruleset → grade) is in ltc.assessments.grading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ltc.clock import period_end
from ltc.phones import InvalidPhone, normalise_phone


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

# What an assessment is for, as partners read it in the grade.concluded event.
KIND_LABELS = {"initial": "首次评估", "reassessment": "重新评估"}


@dataclass(frozen=True)
class GradeConcluded:
    """The `data` of a grade.concluded decision event (ltc.decision_events): the reviewer
    fixed a grade. `ruleset` is "code@version" of the grading ruleset used."""

    assessment_id: int
    application_number: str
    kind: str  # initial | reassessment
    grade: int
    grade_label: str
    ruleset: str
    concluded_on: date

    def as_data(self) -> dict[str, object]:
        return {"assessment_id": self.assessment_id,
                "application_number": self.application_number,
                "kind": self.kind, "kind_label": KIND_LABELS[self.kind],
                "grade": self.grade, "grade_label": self.grade_label,
                "ruleset": self.ruleset, "concluded_on": self.concluded_on.isoformat()}


# The states in which the assigned assessors may record scores, upload evidence and sign.
EDITABLE = frozenset({AssessmentState.ASSIGNED, AssessmentState.IN_PROGRESS,
                      AssessmentState.RETURNED})


def is_assessor_of(user_id: int, assessment: dict) -> bool:
    return user_id in (assessment["assessor_1"], assessment["assessor_2"])


# --- who was present on site, and whether the videos cover the visit --------------------------

# The guardian or agent present at the assessment (监护人或代理人), by relationship to the person.
GUARDIAN_RELATIONSHIPS = ("配偶", "子女", "父母", "兄弟姐妹", "其他亲属", "委托代理人", "其他")
GUARDIAN_NAME_MAX = 50


def clean_guardian(name: str, relationship: str, phone: str,
                   fields: dict[str, str]) -> tuple[str, str, str]:
    """(name, relationship, normalised phone) as they may be saved in a draft: each may still
    be blank (submission requires them); what is filled in must be valid. Problems go into
    `fields` under guardian_name / guardian_relationship / guardian_phone."""
    name, relationship, phone = name.strip(), relationship.strip(), phone.strip()
    if len(name) > GUARDIAN_NAME_MAX:
        fields["guardian_name"] = f"姓名不能超过{GUARDIAN_NAME_MAX}个字"
    if relationship and relationship not in GUARDIAN_RELATIONSHIPS:
        fields["guardian_relationship"] = "请从列表中选择与被评估人的关系"
    if phone:
        try:
            phone = normalise_phone(phone)
        except InvalidPhone as exc:
            fields["guardian_phone"] = str(exc)
    return name, relationship, phone


def guardian_missing(name: str, relationship: str, phone: str) -> dict[str, str]:
    """What submission still needs of the guardian or agent, by field."""
    missing = {}
    if not name:
        missing["guardian_name"] = "请填写在场监护人或代理人的姓名"
    if not relationship:
        missing["guardian_relationship"] = "请选择在场监护人或代理人与被评估人的关系"
    if not phone:
        missing["guardian_phone"] = "请填写在场监护人或代理人的联系电话"
    return missing


def coverage_problem(video_seconds: float, unknown_videos: int, onsite_seconds: float,
                     min_percent: int) -> str | None:
    """The videos must cover `min_percent` of the time on site. A video whose duration could
    not be read counts as 0 seconds: the coverage cannot be shown, so it is not assumed."""
    if onsite_seconds <= 0 or video_seconds * 100 >= onsite_seconds * min_percent:
        return None
    needed = math.ceil(onsite_seconds * min_percent / 100 / 60)
    message = (f"现场视频时长不足：已录 {math.floor(video_seconds / 60)} 分钟，"
               f"现场 {round(onsite_seconds / 60)} 分钟，至少需要 {needed} 分钟")
    if unknown_videos:
        message += f"（另有 {unknown_videos} 段视频无法读取时长，未计入）"
    return message


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
