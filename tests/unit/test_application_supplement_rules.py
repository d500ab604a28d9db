"""The application's state machine over every pair of states, the rules of asking for
missing materials (补正), and the answer deadline across a request for materials."""

from datetime import UTC, date, datetime, time

import pytest

from ltc.applications.deadline_pages import deadlines_of
from ltc.applications.deadlines import DeadlineKind, DeadlineState
from ltc.applications.rules import (
    MAX_SUPPLEMENT_DAYS,
    OPEN_STATES,
    TRANSITIONS,
    ApplicationState,
    Material,
    Requirement,
    can_move,
    received_materials_problem,
    refusal_while_waiting_problem,
    requested_materials_problem,
    supplement_due_problem,
)
from ltc.applications.supplement import default_due_on
from ltc.clock import CHINA, working_calendar

S = ApplicationState
# Every move the application may make; any pair not listed is refused.
ALLOWED = {
    (S.DRAFT, S.SUBMITTED), (S.DRAFT, S.CLOSED),
    (S.SUBMITTED, S.ACCEPTED), (S.SUBMITTED, S.REJECTED), (S.SUBMITTED, S.SUPPLEMENT),
    (S.SUBMITTED, S.CLOSED),
    (S.SUPPLEMENT, S.SUBMITTED), (S.SUPPLEMENT, S.REJECTED), (S.SUPPLEMENT, S.CLOSED),
    (S.ACCEPTED, S.ASSIGNED), (S.ACCEPTED, S.CLOSED),
    (S.ASSIGNED, S.CLOSED),
}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_transition(source: S, target: S) -> None:
    assert can_move(source, target) == ((source, target) in ALLOWED)
    assert can_move(str(source), str(target)) == can_move(source, target)


def test_the_table_covers_every_state_and_labels_the_new_one() -> None:
    assert set(TRANSITIONS) == set(S)
    assert S.SUPPLEMENT.label == "待补正"
    assert S.SUPPLEMENT in OPEN_STATES  # a second application must wait for this one
    assert len(S.SUPPLEMENT.value) <= 12  # the state column's width


TODAY = date(2026, 12, 10)


@pytest.mark.parametrize(
    ("due_on", "problem"),
    [(date(2026, 12, 9), "补正期限须晚于今天"),
     (TODAY, "补正期限须晚于今天"),
     (date(2026, 12, 11), None),
     (date(2027, 2, 8), None),  # exactly 60 days
     (date(2027, 2, 9), f"补正期限不能超过{MAX_SUPPLEMENT_DAYS}天（最晚2027-02-08）")],
)
def test_the_day_materials_are_due(due_on: date, problem: str | None) -> None:
    assert supplement_due_problem(due_on, TODAY) == problem


CHECKLIST = (Material("application_form", "申请表", Requirement.always),
             Material("id_card", "身份证", Requirement.always),
             Material("care_certificate", "残疾证", Requirement.optional))


@pytest.mark.parametrize(
    ("codes", "problem"),
    [([], "请勾选需要补正的材料"),
     (["id_card"], None),
     (["care_certificate"], None),  # an optional one may be asked for too
     (["id_card", "passport", "visa"], "未知的材料编码：passport、visa，请从材料清单中勾选")],
)
def test_what_may_be_asked_for(codes: list[str], problem: str | None) -> None:
    assert requested_materials_problem(CHECKLIST, codes) == problem


@pytest.mark.parametrize(
    ("received", "problem"),
    [([], "请勾选申请人已补交的材料；一份也未补交的，请等待补正期限届满后处理"),
     (["id_card"], None),
     (["id_card", "application_form"], None),
     (["id_card", "care_certificate"], "以下材料不在补正通知书中：care_certificate")],
)
def test_what_may_be_recorded_as_received(received: list[str], problem: str | None) -> None:
    assert received_materials_problem(["id_card", "application_form"], received) == problem


@pytest.mark.parametrize(
    ("today", "refusable"),
    [(date(2026, 12, 16), False), (date(2026, 12, 17), False), (date(2026, 12, 18), True)],
)
def test_refusal_waits_until_the_period_has_run_out(today: date, refusable: bool) -> None:
    problem = refusal_while_waiting_problem(date(2026, 12, 17), today)
    assert (problem is None) == refusable
    if not refusable:
        assert problem == "补正期限至2026-12-17，期限届满前不能作不予受理决定"


# --- the answer deadline (22号) across a request for materials ------------------------------

def _at(day: date | None) -> datetime | None:
    return datetime.combine(day, time(10), CHINA).astimezone(UTC) if day else None


def _row(state: S, submitted: date, requested: date | None = None,
         received: date | None = None, decided: date | None = None,
         accepted: date | None = None) -> dict:
    return {"state": str(state), "origin": "applicant", "submitted_at": _at(submitted),
            "materials_requested_at": _at(requested), "materials_received_at": _at(received),
            "decided_at": _at(decided), "accepted_at": _at(accepted)}


MON, TUE, WED, THU = date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9), date(2026, 12, 10)
NEXT_MON, NEXT_FRI = date(2026, 12, 14), date(2026, 12, 18)
LATER = date(2027, 1, 20)


@pytest.mark.parametrize(
    ("name", "row", "today", "expected"),
    [
        ("no request: the answer runs from submission",
         _row(S.SUBMITTED, MON), WED, [("answer", "running", MON, None)]),
        ("asked for materials: answered that day, nothing running while waiting",
         _row(S.SUPPLEMENT, MON, requested=TUE), LATER, [("answer", "met", MON, TUE)]),
        ("materials received: a fresh answer deadline from the receipt",
         _row(S.SUBMITTED, MON, requested=TUE, received=NEXT_MON), LATER,
         [("answer", "met", MON, TUE), ("resumed", "overdue", NEXT_MON, None)]),
        ("accepted after the materials: the fresh deadline is met",
         _row(S.ACCEPTED, MON, requested=TUE, received=NEXT_MON, decided=NEXT_FRI,
              accepted=NEXT_FRI), NEXT_FRI,
         [("answer", "met", MON, TUE), ("resumed", "met", NEXT_MON, NEXT_FRI),
          ("letter", "running", NEXT_FRI, None)]),
        ("refused after the period ran out: only the first answer",
         _row(S.REJECTED, MON, requested=TUE, decided=LATER), LATER,
         [("answer", "met", MON, TUE)]),
        ("refused after the materials came",
         _row(S.REJECTED, MON, requested=TUE, received=WED, decided=THU), LATER,
         [("answer", "met", MON, TUE), ("resumed", "met", WED, THU)]),
        ("withdrawn while waiting",
         _row(S.CLOSED, MON, requested=TUE, decided=WED), LATER, [("answer", "met", MON, TUE)]),
    ],
)
def test_the_answer_deadline_restarts_when_the_materials_come(name, row, today,
                                                              expected) -> None:
    found = deadlines_of(row, (5, 30), today, working_calendar())
    assert [(d.kind.value, d.state.value, d.starts_on, d.done_on) for d in found] == expected, \
        name


def test_the_fresh_deadline_has_the_full_working_days() -> None:
    # Received Monday 14 December: 5 working days → Monday 21 December.
    row = _row(S.SUBMITTED, MON, requested=TUE, received=NEXT_MON)
    _, resumed = deadlines_of(row, (5, 30), date(2026, 12, 15), working_calendar())
    assert (resumed.kind, resumed.due_on, resumed.remaining) == (
        DeadlineKind.RESUMED, date(2026, 12, 21), 4)
    assert resumed.state == DeadlineState.RUNNING
    assert resumed.text == "补正后受理答复：已用1个工作日，剩余4个工作日（2026-12-21前）"


@pytest.mark.parametrize(
    ("today", "due_on"),
    [(date(2026, 12, 11), date(2026, 12, 18)),  # Friday: the next Friday
     (date(2026, 12, 28), date(2027, 1, 5)),  # across New Year's Day (1 January off)
     (date(2026, 2, 12), date(2026, 2, 26))],  # across the Spring Festival
)
def test_the_default_period_is_five_working_days(today: date, due_on: date) -> None:
    assert default_due_on(today) == due_on
