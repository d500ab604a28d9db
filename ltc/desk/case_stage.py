"""Where a case stands over its whole life, and what comes next (SPEC §3): one status line
for the case page. A pure function of facts from five contexts (the application, its
assessments, its notice entry, the decision and the entitlement), so it lives on the desk.
No I/O.

Steps: 申请 → 受理 → 评估 → 审核 → 公示 → 异议/复评 → 核定 → 享受待遇 / 不予享受, with the side
states 待补正 (at 受理), 不予受理 (ends at 受理) and 终止 (ended wherever it was).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum


class Step(IntEnum):
    APPLY = 0
    ACCEPT = 1
    ASSESS = 2
    REVIEW = 3
    NOTICE = 4
    OBJECTION = 5
    DECIDE = 6
    OUTCOME = 7


STEP_LABELS = {Step.APPLY: "申请", Step.ACCEPT: "受理", Step.ASSESS: "评估", Step.REVIEW: "审核",
               Step.NOTICE: "公示", Step.OBJECTION: "异议/复评", Step.DECIDE: "核定",
               Step.OUTCOME: "享受待遇 / 不予享受"}


class Side(StrEnum):
    SUPPLEMENT = "待补正"
    REJECTED = "不予受理"
    ENDED = "终止"


class Mark(StrEnum):
    DONE = "done"
    CURRENT = "current"
    TODO = "todo"
    SKIPPED = "skipped"  # passed over: no objection, so no re-assessment


@dataclass(frozen=True)
class AssessmentFact:
    kind: str  # initial | reassessment
    state: str  # ltc.assessments.rules.AssessmentState
    due_on: date | None = None
    assessors: str = ""


@dataclass(frozen=True)
class NoticeFact:
    """The case's latest notice entry and its batch."""

    batch_number: str
    batch_state: str  # DRAFT | PUBLISHED | CLOSED
    outcome: str  # PENDING | NO_OBJECTION | OBJECTED | WITHDRAWN
    ends_on: date | None
    objections: int
    reassessment_assigned: bool


@dataclass(frozen=True)
class DecisionFact:
    number: str
    eligible: bool
    grade_label: str
    decided_on: date


@dataclass(frozen=True)
class EntitlementFact:
    state: str  # ACTIVE | SUSPENDED | ENDED
    starts_on: date
    expires_on: date
    ends_on: date | None = None


@dataclass(frozen=True)
class CaseFacts:
    state: str  # ltc.applications.rules.ApplicationState
    today: date
    answer_due_on: date | None = None  # the running 受理答复 deadline, if any
    materials_due_on: date | None = None
    closing_note: str = ""  # why a case without a decision was closed
    assessments: tuple[AssessmentFact, ...] = ()  # in the order they were drawn
    notice: NoticeFact | None = None
    decision: DecisionFact | None = None
    entitlement: EntitlementFact | None = None


@dataclass(frozen=True)
class CaseStage:
    step: Step
    where: str  # where the case is, in a few words
    next: str  # what happens next ("" when nothing more will)
    who: str = ""  # who must act next
    due_on: date | None = None
    side: Side | None = None
    outcome_label: str = "享受待遇 / 不予享受"  # the last step, once known
    skipped: frozenset[Step] = field(default_factory=frozenset)

    def steps(self) -> list[tuple[str, Mark]]:
        """Every step with its mark, for the progress line."""
        marks = []
        for step in Step:
            label = self.outcome_label if step == Step.OUTCOME else STEP_LABELS[step]
            if step in self.skipped:
                mark = Mark.SKIPPED
            elif step < self.step or (step == self.step and self.step == Step.OUTCOME):
                mark = Mark.DONE
            elif step == self.step:
                mark = Mark.CURRENT
            else:
                mark = Mark.TODO
            marks.append((label, mark))
        return marks


_ASSESSING = ("ASSIGNED", "IN_PROGRESS", "RETURNED")


def case_stage(facts: CaseFacts) -> CaseStage:
    """The stage of a case from its facts: the decision and entitlement when made, otherwise
    the application's state and, while it is being assessed, the latest assessment and
    notice entry."""
    # Passed over when the notice ended without objection and nobody was re-assessed.
    no_objection = frozenset({Step.OBJECTION}) if (
        facts.notice is not None and facts.notice.outcome == "NO_OBJECTION"
        and not any(a.kind == "reassessment" for a in facts.assessments)) else frozenset()
    if facts.decision is not None:
        return _decided(facts, facts.decision, no_objection)
    state = facts.state
    if state == "DRAFT":
        return CaseStage(Step.APPLY, "申请草稿，尚未提交", "提交申请", "经办员")
    if state == "SUBMITTED":
        return CaseStage(Step.ACCEPT, "已提交，待受理审查",
                         "审查材料，作出受理、补正或不予受理决定", "经办员", facts.answer_due_on)
    if state == "SUPPLEMENT":
        return CaseStage(Step.ACCEPT, "待补正：已一次性告知补正材料",
                         "申请人补交材料后继续受理审查", "申请人", facts.materials_due_on,
                         Side.SUPPLEMENT)
    if state == "REJECTED":
        return CaseStage(Step.ACCEPT, "不予受理，申请已办结", "", side=Side.REJECTED)
    if state == "ACCEPTED":
        return CaseStage(Step.ASSESS, "已受理，待分派评估员", "随机分派两名评估员", "经办员")
    if state == "CLOSED":
        where = "申请已终止" + (f"（{facts.closing_note}）" if facts.closing_note else "")
        return CaseStage(_reached(facts), where, "", side=Side.ENDED)
    return _assessing(facts, no_objection)


def _reached(facts: CaseFacts) -> Step:
    """How far a case got before it was ended."""
    if facts.notice is not None:
        return Step.OBJECTION if facts.notice.outcome == "OBJECTED" else Step.NOTICE
    if any(a.state in ("SUBMITTED", "CONCLUDED") for a in facts.assessments):
        return Step.REVIEW
    return Step.ASSESS if facts.assessments else Step.ACCEPT


def _assessing(facts: CaseFacts, no_objection: frozenset[Step]) -> CaseStage:
    latest = facts.assessments[-1] if facts.assessments else None
    notice = facts.notice
    if latest is None:
        return CaseStage(Step.ASSESS, "已受理，待分派评估员", "随机分派两名评估员", "经办员")
    again = latest.kind == "reassessment"
    if latest.state in _ASSESSING:
        doing = "复评" if again else "评估"
        where = f"{doing}中" + ("（已退回评估员补正）" if latest.state == "RETURNED" else "")
        who = f"评估员（{latest.assessors}）" if latest.assessors else "评估员"
        return CaseStage(Step.OBJECTION if again else Step.ASSESS, where,
                         f"两名评估员上门{doing}、签名并提交", who, latest.due_on)
    if latest.state == "SUBMITTED":
        if again:
            return CaseStage(Step.OBJECTION, "复评已提交，待审核", "审核员确认复评结论", "审核员")
        return CaseStage(Step.REVIEW, "评估已提交，待审核", "审核员确认评估结论（或退回）",
                         "审核员")
    if latest.state == "CANCELLED":
        return CaseStage(Step.REVIEW if not again else Step.OBJECTION, "评估已终止", "",
                         side=Side.ENDED)
    # The latest assessment is concluded.
    if again and (notice is None or notice.reassessment_assigned):
        # The policy wants a re-assessment noticed again: it waits for the next batch.
        return CaseStage(Step.NOTICE, "复评结论已确认，待再次公示", "编入公示并发布", "经办员")
    if notice is None:
        return CaseStage(Step.NOTICE, "评估结论已确认，待公示", "编入本镇（街道）公示并发布",
                         "经办员")
    if notice.batch_state == "DRAFT":
        return CaseStage(Step.NOTICE, f"已编入公示 {notice.batch_number}（草稿），待发布",
                         "发布公示", "经办员")
    if notice.outcome == "PENDING":
        ends = notice.ends_on.isoformat() if notice.ends_on else ""
        if notice.objections:
            return CaseStage(Step.NOTICE, f"公示中（{notice.batch_number}），已收到异议 "
                             f"{notice.objections} 件",
                             f"公示期满（{ends}）后分派两名未参与原评估的评估员重新评估", "系统")
        return CaseStage(Step.NOTICE, f"公示中（{notice.batch_number}），{ends} 前可提出异议",
                         "公示期满无异议的，作出待遇核定；有异议的，重新评估", "系统")
    if notice.outcome == "OBJECTED":
        return CaseStage(Step.OBJECTION, "有异议，复评评估员待分派（可抽取的评估员不足）",
                         "分派两名未参与原评估的评估员重新评估", "经办员")
    return CaseStage(Step.DECIDE, "公示期满，待核定", "作出待遇核定", "经办员",
                     skipped=no_objection)


def _decided(facts: CaseFacts, decision: DecisionFact,
             no_objection: frozenset[Step]) -> CaseStage:
    grade = f"（{decision.grade_label}）" if decision.grade_label else ""
    if not decision.eligible:
        return CaseStage(Step.OUTCOME, f"已办结，核定不予享受待遇{grade}",
                         "", outcome_label="不予享受", skipped=no_objection)
    held = facts.entitlement
    where = f"已办结，核定享受待遇{grade}"
    if held is None:
        return CaseStage(Step.OUTCOME, where, "", outcome_label="享受待遇", skipped=no_objection)
    if held.state == "ENDED":
        until = held.ends_on or held.expires_on
        where += f"，待遇已于 {until.isoformat()} 终止"
        return CaseStage(Step.OUTCOME, where, "", outcome_label="享受待遇", skipped=no_objection)
    if held.state == "SUSPENDED":
        where += "，待遇暂停中"
    if facts.today < held.starts_on:
        next_ = (f"待遇自 {held.starts_on.isoformat()} 起享受，"
                 f"有效期至 {held.expires_on.isoformat()}")
    else:
        next_ = f"待遇有效期至 {held.expires_on.isoformat()}，到期前复评"
    return CaseStage(Step.OUTCOME, where, next_, outcome_label="享受待遇", skipped=no_objection)
