"""Where a case stands over its whole life (ltc.desk.case_stage): one row per stage and side
state, from the facts the case page reads."""

from dataclasses import replace
from datetime import date

import pytest

from ltc.desk.case_stage import (
    AssessmentFact,
    CaseFacts,
    DecisionFact,
    EntitlementFact,
    Mark,
    NoticeFact,
    Side,
    Step,
    case_stage,
)

TODAY = date(2026, 6, 10)
BASE = CaseFacts(state="ASSIGNED", today=TODAY)
FIRST = AssessmentFact("initial", "CONCLUDED", None, "王评估、李评估")
AGAIN = AssessmentFact("reassessment", "CONCLUDED", date(2026, 6, 20), "赵评估、钱评估")
RUNNING = NoticeFact("GS20260601001", "PUBLISHED", "PENDING", date(2026, 6, 12), 0, False)
OBJECTED = replace(RUNNING, batch_state="CLOSED", outcome="OBJECTED", objections=1)
CLEAR = replace(RUNNING, batch_state="CLOSED", outcome="NO_OBJECTION")
YES = DecisionFact("HD20260613001", True, "重度失能Ⅰ级", date(2026, 6, 13))
NO = DecisionFact("HD20260613002", False, "轻度失能", date(2026, 6, 13))
HELD = EntitlementFact("ACTIVE", date(2026, 7, 1), date(2028, 6, 30))


def facts(**changes) -> CaseFacts:
    return replace(BASE, **changes)


# (name, facts, step, side, words in `where`, words in `next`, who, due_on)
CASES = [
    ("draft", facts(state="DRAFT"), Step.APPLY, None, "草稿", "提交", "经办员", None),
    ("submitted", facts(state="SUBMITTED", answer_due_on=date(2026, 6, 15)), Step.ACCEPT,
     None, "待受理", "受理", "经办员", date(2026, 6, 15)),
    ("supplement", facts(state="SUPPLEMENT", materials_due_on=date(2026, 6, 17)), Step.ACCEPT,
     Side.SUPPLEMENT, "待补正", "补交材料", "申请人", date(2026, 6, 17)),
    ("rejected", facts(state="REJECTED"), Step.ACCEPT, Side.REJECTED, "不予受理", "", "", None),
    ("accepted", facts(state="ACCEPTED"), Step.ASSESS, None, "待分派", "分派", "经办员", None),
    ("assessing", facts(assessments=(replace(FIRST, state="IN_PROGRESS"),)), Step.ASSESS,
     None, "评估中", "上门评估", "王评估", None),
    ("returned", facts(assessments=(replace(FIRST, state="RETURNED"),)), Step.ASSESS, None,
     "退回", "提交", "评估员", None),
    ("submitted for review", facts(assessments=(replace(FIRST, state="SUBMITTED"),)),
     Step.REVIEW, None, "待审核", "确认评估结论", "审核员", None),
    ("concluded, not noticed", facts(assessments=(FIRST,)), Step.NOTICE, None, "待公示",
     "编入", "经办员", None),
    ("notice drafted", facts(assessments=(FIRST,), notice=replace(RUNNING, batch_state="DRAFT")),
     Step.NOTICE, None, "草稿", "发布公示", "经办员", None),
    ("noticed", facts(assessments=(FIRST,), notice=RUNNING), Step.NOTICE, None,
     "2026-06-12 前可提出异议", "无异议的，作出待遇核定", "系统", None),
    ("noticed, objection heard", facts(assessments=(FIRST,), notice=replace(RUNNING,
                                                                         objections=2)),
     Step.NOTICE, None, "已收到异议 2 件", "公示期满（2026-06-12）后分派", "系统", None),
    ("objected, no assessors", facts(assessments=(FIRST,), notice=OBJECTED), Step.OBJECTION,
     None, "复评评估员待分派", "未参与原评估", "经办员", None),
    ("re-assessing", facts(assessments=(FIRST, replace(AGAIN, state="ASSIGNED")),
                           notice=replace(OBJECTED, reassessment_assigned=True)),
     Step.OBJECTION, None, "复评中", "复评", "赵评估", date(2026, 6, 20)),
    ("re-assessment submitted", facts(assessments=(FIRST, replace(AGAIN, state="SUBMITTED")),
                                      notice=replace(OBJECTED, reassessment_assigned=True)),
     Step.OBJECTION, None, "复评已提交", "确认复评结论", "审核员", None),
    ("re-assessment to be noticed again", facts(
        assessments=(FIRST, AGAIN), notice=replace(OBJECTED, reassessment_assigned=True)),
     Step.NOTICE, None, "再次公示", "发布", "经办员", None),
    ("noticed, not yet decided", facts(assessments=(FIRST,), notice=CLEAR), Step.DECIDE, None,
     "待核定", "核定", "经办员", None),
    ("entitled from next month", facts(state="CLOSED", assessments=(FIRST,), notice=CLEAR,
                                       decision=YES, entitlement=HELD),
     Step.OUTCOME, None, "核定享受待遇（重度失能Ⅰ级）", "2026-07-01 起享受", "", None),
    ("entitled, running", facts(state="CLOSED", today=date(2026, 8, 1), decision=YES,
                                entitlement=HELD),
     Step.OUTCOME, None, "享受待遇", "有效期至 2028-06-30", "", None),
    ("entitled, suspended", facts(state="CLOSED", today=date(2026, 8, 1), decision=YES,
                                  entitlement=replace(HELD, state="SUSPENDED")),
     Step.OUTCOME, None, "暂停", "有效期至", "", None),
    ("entitlement ended", facts(state="CLOSED", decision=YES, entitlement=replace(
        HELD, state="ENDED", ends_on=date(2027, 3, 4))),
     Step.OUTCOME, None, "2027-03-04 终止", "", "", None),
    ("not eligible after re-assessment", facts(
        state="CLOSED", assessments=(FIRST, AGAIN), notice=OBJECTED, decision=NO),
     Step.OUTCOME, None, "不予享受待遇（轻度失能）", "", "", None),
    ("ended before assessment", facts(state="CLOSED", closing_note="申请人已死亡",
                                      assessments=(replace(FIRST, state="CANCELLED"),)),
     Step.ASSESS, Side.ENDED, "申请已终止（申请人已死亡）", "", "", None),
    ("ended while noticed", facts(state="CLOSED", assessments=(FIRST,),
                                  notice=replace(RUNNING, outcome="WITHDRAWN")),
     Step.NOTICE, Side.ENDED, "终止", "", "", None),
    ("ended during re-assessment", facts(state="CLOSED", assessments=(FIRST,),
                                         notice=OBJECTED),
     Step.OBJECTION, Side.ENDED, "终止", "", "", None),
    ("withdrawn before acceptance", facts(state="CLOSED"), Step.ACCEPT, Side.ENDED, "终止",
     "", "", None),
]


@pytest.mark.parametrize(("facts_", "step", "side", "where", "next_", "who", "due_on"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_stage(facts_: CaseFacts, step: Step, side: Side | None, where: str, next_: str,
               who: str, due_on: date | None) -> None:
    stage = case_stage(facts_)
    assert (stage.step, stage.side, stage.due_on) == (step, side, due_on)
    assert where in stage.where
    assert next_ in stage.next and bool(next_) == bool(stage.next)
    assert who in stage.who and bool(who) == bool(stage.who)


def test_every_step_and_side_state_is_covered() -> None:
    stages = [case_stage(case[1]) for case in CASES]
    assert {s.step for s in stages} == set(Step)
    assert {s.side for s in stages} == {*Side, None}


def test_the_progress_line_marks_done_current_and_skipped_steps() -> None:
    noticed = case_stage(facts(assessments=(FIRST,), notice=RUNNING)).steps()
    assert [mark for _, mark in noticed] == [Mark.DONE] * 4 + [Mark.CURRENT] + [Mark.TODO] * 3
    decided = case_stage(facts(state="CLOSED", assessments=(FIRST,), notice=CLEAR,
                               decision=NO)).steps()
    assert decided[-1] == ("不予享受", Mark.DONE)
    assert decided[Step.OBJECTION] == ("异议/复评", Mark.SKIPPED)
    objected = case_stage(facts(state="CLOSED", assessments=(FIRST, AGAIN), notice=OBJECTED,
                                decision=YES, entitlement=HELD)).steps()
    assert objected[Step.OBJECTION][1] == Mark.DONE and objected[-1][0] == "享受待遇"
