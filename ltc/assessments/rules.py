"""The assessment's life: states, who may act in each, and what a submission needs. No I/O.

Grading itself (scores + ruleset → grade) is in ltc.assessments.grading.
"""

from __future__ import annotations

from enum import StrEnum


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
