"""Care plan rules (SPEC §5): what a plan may contain, who delivers it, visits per month, and
which version is in force on a day."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ltc.careplans.rules import (
    CARE_FORM_LABELS,
    CATEGORY_LABELS,
    STATE_LABELS,
    CareForm,
    CatalogueItem,
    PlanState,
    arrangement_problems,
    ends_on,
    item_label,
    ordered_items,
    plan_in_force,
    plan_problems,
    plan_visits,
    start_problem,
    visits_per_month,
)
from ltc.policy.rules import parse_policy

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ITEMS = json.loads((FIXTURES / "care_items.json").read_text(encoding="utf-8"))["items"]
CATALOGUE = {i["code"]: CatalogueItem(i["code"], i["name_zh"], i["nurse_only"]) for i in ITEMS}
POLICY = parse_policy(json.loads((FIXTURES / "policies" / "feicheng.json").read_text(
    encoding="utf-8"))["definition"])
REQUIRED, OPTIONAL = POLICY.care_required, POLICY.care_optional


def test_states_and_forms_have_chinese_labels() -> None:
    assert {s: s.label for s in PlanState} == {
        PlanState.PROPOSED: "待确认", PlanState.ACTIVE: "执行中",
        PlanState.SUPERSEDED: "已被新版本替代", PlanState.REJECTED: "已退回"}
    assert STATE_LABELS[PlanState.ACTIVE] == "执行中"
    assert {f: f.label for f in CareForm} == {CareForm.home: "居家护理",
                                             CareForm.institution: "机构护理"}
    assert CARE_FORM_LABELS[CareForm.home] == "居家护理"
    assert set(CATEGORY_LABELS) == {i["category"] for i in ITEMS}


def test_item_label() -> None:
    assert item_label("B08", CATALOGUE) == "口腔清洁（B08）"
    assert item_label("Z99", CATALOGUE) == "Z99"


# --- plan_problems: every row of the rule ---------------------------------------------------

NURSE_ITEM = "C06"  # 吸氧: optional, nurse only
BASIC_OPTIONAL = "B02"  # 洗发
EXCLUDED = "C09"  # 灌肠: in the catalogue, not in the package
MISSING_REQUIRED = "B08"  # 口腔清洁


def without(codes: tuple[str, ...], *removed: str) -> list[str]:
    return [c for c in codes if c not in removed]


PROBLEM_ROWS: list[tuple[str, list[str], bool, dict[str, str]]] = [
    ("exactly the required items", list(REQUIRED), False, {}),
    ("required and a basic optional item", [*REQUIRED, BASIC_OPTIONAL], False, {}),
    ("every item of the package, with a nurse", [*REQUIRED, *OPTIONAL], True, {}),
    ("a nurse-only item with a nurse on staff", [*REQUIRED, NURSE_ITEM], True, {}),
    ("a required item missing", without(REQUIRED, MISSING_REQUIRED), True,
     {"items.B08": "口腔清洁（B08）是必选项目，每份护理计划都必须包含，请勾选"}),
    ("an item outside the package", [*REQUIRED, EXCLUDED], True,
     {"items.C09": "灌肠（C09）不在本地区的护理服务包内（必选或可选项目），请删去"}),
    ("a code not in the catalogue", [*REQUIRED, "B99"], True,
     {"items.B99": "B99 不是护理项目目录中的项目编号，请删去"}),
    ("a nurse-only item without a nurse", [*REQUIRED, NURSE_ITEM], False,
     {"items.C06": "吸氧（C06）须由护士提供，该机构在计划开始日没有在协议期内的护士，"
                   "请删去此项或先为机构签订护士的服务人员协议"}),
    ("an excluded nurse-only item without a nurse: outside the package, said once",
     [*REQUIRED, EXCLUDED], False,
     {"items.C09": "灌肠（C09）不在本地区的护理服务包内（必选或可选项目），请删去"}),
    ("no items at all: every required item", [], False,
     {f"items.{c}": f"{item_label(c, CATALOGUE)}是必选项目，每份护理计划都必须包含，请勾选"
      for c in REQUIRED}),
]


@pytest.mark.parametrize(("items", "has_nurse", "expected"),
                         [row[1:] for row in PROBLEM_ROWS], ids=[row[0] for row in PROBLEM_ROWS])
def test_plan_problems(items: list[str], has_nurse: bool, expected: dict[str, str]) -> None:
    assert plan_problems(items, REQUIRED, OPTIONAL, CATALOGUE, has_nurse) == expected


def test_plan_problems_reports_everything_at_once() -> None:
    items = [*without(REQUIRED, "B01", "B21"), EXCLUDED, NURSE_ITEM, "C05", BASIC_OPTIONAL]
    problems = plan_problems(items, REQUIRED, OPTIONAL, CATALOGUE, has_nurse=False)
    assert list(problems) == ["items.B01", "items.B21", "items.C05", "items.C06", "items.C09"]


def test_plan_problems_follow_the_package_given() -> None:
    # Another region: a smaller package in which 吸氧 is required.
    assert plan_problems(["B01", "C06"], ("B01", "C06"), (), CATALOGUE, has_nurse=True) == {}
    assert list(plan_problems(["B01", "C06", "B02"], ("B01", "C06"), (), CATALOGUE,
                              has_nurse=True)) == ["items.B02"]


def test_items_are_stored_distinct_and_ordered() -> None:
    assert ordered_items(["B04", "B01", "B04"]) == ["B01", "B04"]


# --- who delivers the care --------------------------------------------------------------------

ARRANGEMENTS = [
    ("home", True, False, {}),
    ("home", True, True, {}),
    ("home", False, True, {}),
    ("home", False, False,
     {"provider": "居家护理请选择上门服务的护理机构，或选择亲属护理协议（也可两者都选）"}),
    ("institution", True, False, {}),
    ("institution", False, False, {"provider": "机构护理请选择提供护理的定点机构"}),
    ("institution", True, True,
     {"family_caregiver": "机构护理不享受家庭护理补贴，请不要选择亲属护理协议"}),
    ("institution", False, True,
     {"provider": "机构护理请选择提供护理的定点机构",
      "family_caregiver": "机构护理不享受家庭护理补贴，请不要选择亲属护理协议"}),
    ("", True, False, {"care_form": "请选择护理形式：居家护理或机构护理"}),
    ("nursing_home", True, False, {"care_form": "请选择护理形式：居家护理或机构护理"}),
]


@pytest.mark.parametrize(("care_form", "provider", "caregiver", "expected"), ARRANGEMENTS)
def test_arrangement_problems(care_form: str, provider: bool, caregiver: bool,
                              expected: dict[str, str]) -> None:
    assert arrangement_problems(care_form, provider, caregiver) == expected


# --- visits per month -------------------------------------------------------------------------

@pytest.mark.parametrize(("grade", "visits"), [(0, 0), (1, 0), (2, 0), (3, 2), (4, 3), (5, 4)])
def test_visits_per_month_by_grade(grade: int, visits: int) -> None:
    assert visits_per_month(POLICY, grade) == visits


@pytest.mark.parametrize(
    ("care_form", "provider", "visits"),
    [("home", True, 4), ("home", False, 0), ("institution", True, 0)],
)
def test_plan_visits(care_form: str, provider: bool, visits: int) -> None:
    assert plan_visits(POLICY, 5, care_form, provider) == visits


# --- the version in force ---------------------------------------------------------------------

def plan(no: int, state: str, starts_on: date) -> dict[str, Any]:
    return {"id": no, "plan_no": no, "state": state, "starts_on": starts_on}


D = date
HISTORY = [
    plan(1, "SUPERSEDED", D(2026, 12, 1)),
    plan(2, "REJECTED", D(2027, 1, 1)),  # never in force
    plan(3, "SUPERSEDED", D(2027, 2, 1)),
    plan(4, "ACTIVE", D(2027, 4, 1)),
    plan(5, "PROPOSED", D(2027, 5, 1)),  # not yet confirmed
]
IN_FORCE = [
    (D(2026, 11, 30), None),  # before the first version
    (D(2026, 12, 1), 1),
    (D(2027, 1, 15), 1),  # the rejected version changes nothing
    (D(2027, 1, 31), 1),
    (D(2027, 2, 1), 3),
    (D(2027, 3, 31), 3),
    (D(2027, 4, 1), 4),
    (D(2027, 5, 2), 4),  # the proposal is not in force
    (D(2030, 1, 1), 4),
]


@pytest.mark.parametrize(("day", "expected"), IN_FORCE)
def test_plan_in_force(day: date, expected: int | None) -> None:
    found = plan_in_force(HISTORY, day)
    assert (found["plan_no"] if found else None) == expected
    assert plan_in_force(list(reversed(HISTORY)), day) == found  # order does not matter


def test_no_confirmed_version_no_plan() -> None:
    assert plan_in_force([], D(2027, 1, 1)) is None
    assert plan_in_force([plan(1, "PROPOSED", D(2026, 12, 1)),
                          plan(2, "REJECTED", D(2026, 12, 1))], D(2027, 1, 1)) is None


@pytest.mark.parametrize(("no", "last_day"), [(1, D(2027, 1, 31)), (2, None),
                                               (3, D(2027, 3, 31)), (4, None), (5, None)])
def test_ends_on_the_day_before_the_next_version(no: int, last_day: date | None) -> None:
    assert ends_on(HISTORY, HISTORY[no - 1]) == last_day


# --- start dates ------------------------------------------------------------------------------

ENT_START, ENT_LAST = D(2026, 12, 1), D(2028, 11, 30)
AFTER_CURRENT = ("新版本的开始日期必须晚于现行护理计划的开始日期 2027-03-01"
                 "（变更从新的日期起生效，原计划保留）")
STARTS = [
    (D(2026, 12, 1), None, None),
    (D(2026, 11, 30), None, "开始日期不能早于待遇开始日期 2026-12-01"),
    (D(2028, 11, 30), None, None),
    (D(2028, 12, 1), None, "开始日期不能晚于待遇的最后享受日 2028-11-30"),
    (D(2027, 3, 2), D(2027, 3, 1), None),
    (D(2027, 3, 1), D(2027, 3, 1), AFTER_CURRENT),
    (D(2027, 2, 1), D(2027, 3, 1), AFTER_CURRENT),
]


@pytest.mark.parametrize(("starts_on", "current", "problem"), STARTS)
def test_start_problem(starts_on: date, current: date | None, problem: str | None) -> None:
    assert start_problem(starts_on, ENT_START, ENT_LAST, current) == problem


# --- the household PIN ------------------------------------------------------------------------

def test_household_pins_are_six_random_digits_and_hashed() -> None:
    from ltc.careplans.rules import hash_pin, new_pin

    pins = {new_pin() for _ in range(50)}
    assert all(len(p) == 6 and p.isdigit() for p in pins) and len(pins) > 40
    encoded = hash_pin("004817")
    assert "004817" not in encoded and encoded.startswith("scrypt$")
    assert encoded != hash_pin("004817")  # salted per issue


@pytest.mark.parametrize(("typed", "stored", "matches"), [
    ("004817", "004817", True),
    ("4817", "004817", False),
    ("004818", "004817", False),
    ("", "004817", False),
])
def test_a_pin_matches_only_itself(typed: str, stored: str, matches: bool) -> None:
    from ltc.careplans.rules import check_pin, hash_pin

    assert check_pin(typed, hash_pin(stored)) is matches
    assert check_pin(typed, "not a hash") is False
