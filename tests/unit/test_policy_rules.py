"""A region's policy version (SPEC §9): parsing, every problem under its field, the admin form."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.errors import InvalidInput
from ltc.policy.form import describe, form_values, from_form, parse_percent
from ltc.policy.rules import (
    FORM_MONEY_PROBLEM,
    MAX_FEN,
    MISSING,
    PARAMETER_NAMES,
    PARAMETERS,
    RETIRED,
    UNKNOWN,
    Policy,
    PolicyError,
    bed_day_rate,
    is_eligible,
    parse_policy,
    parse_stored,
    policy_as_json,
    quota,
    validity_months,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "policies" / "feicheng.json"


def fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def definition(**changes: Any) -> dict[str, Any]:
    data = fixture()["definition"]
    data.update(changes)
    return data


def problems_of(data: Any) -> dict[str, str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(data)
    return caught.value.problems


# --- the shipped Feicheng policy ----------------------------------------------------------

def test_fixture_is_feichengs_pooling_region_with_a_source_note() -> None:
    data = fixture()
    regions = json.loads((FIXTURE.parents[1] / "regions.json").read_text(encoding="utf-8"))
    feicheng = next(r for r in regions["regions"] if r["name"] == "肥城市")
    assert feicheng["level"] == "pooling"
    assert data["region"] == feicheng["code"] == "370983"
    assert data["effective_from"] == "2021-01-01"
    # The bureau's contact is the pooling region's: the fixture ships none, not even a fake.
    assert "ltc region set-bureau" in data["source"]
    assert not RETIRED.keys() & data["definition"].keys()
    assert set(data) == {"region", "effective_from", "source", "note", "definition"}
    assert data["note"] and not any(c.isascii() and c.isalpha() for c in data["note"])


# The "10+X" package: each item's default `package` in fixtures/care_items.json (SPEC §5).
REQUIRED = ("B01", "B04", "B08", "B09", "B10", "B11", "B14", "B17", "B20", "B21")
OPTIONAL = ("B02", "B03", "B05", "B06", "B07", "B12", "B13", "B15", "B16", "B18", "B19", "B22",
            "B23", "B24", "B25", "B26", "B27", "C01", "C02", "C03", "C04", "C05", "C06", "C07",
            "C08")


def test_fixture_holds_the_spec_defaults() -> None:
    policy = parse_policy(fixture()["definition"])
    assert policy == Policy(
        eligible_grades=(3, 4, 5),
        family_subsidy_fen=45000,  # 450.00 yuan a month
        visits_per_month={3: 2, 4: 3, 5: 4},
        visit_rate_fen=8000,  # 80.00 yuan
        min_visit_minutes=30,
        bed_day_rate_fen={3: 5000, 4: 6000, 5: 7000},  # 50 / 60 / 70 yuan
        deposit_basis_points=500,  # 5 %
        monthly_budget_fen=None,
        notice_days=5,
        notice_day_kind="calendar",
        renotice_after_reassessment=False,
        reassessment_working_days=10,
        validity_months=24,
        renewal_lead_days=60,
        min_disability_months=6,
        reapply_months=6,
        bureau_name="肥城市医疗保障局",
        objection_how=policy.objection_how,
        care_required=REQUIRED,
        care_optional=OPTIONAL,
        validity_months_by_grade={3: 24, 4: 24, 5: 24},  # from validity_months (not stored)
    )
    for words in ("公示期内", "实名", "镇（街道）", "电话", "网上"):
        assert words in policy.objection_how


def test_fixture_package_is_the_catalogue_default() -> None:
    catalogue = json.loads((FIXTURE.parents[1] / "care_items.json").read_text(encoding="utf-8"))
    policy = parse_policy(fixture()["definition"])
    by_package = {kind: tuple(sorted(i["code"] for i in catalogue["items"]
                                     if i["package"] == kind))
                  for kind in ("required", "optional")}
    assert (len(policy.care_required), len(policy.care_optional)) == (10, 25)
    assert (policy.care_required, policy.care_optional) == (by_package["required"],
                                                            by_package["optional"])


def test_helpers() -> None:
    policy = parse_policy(fixture()["definition"])
    assert [quota(policy, g) for g in range(6)] == [0, 0, 0, 2, 3, 4]
    assert [bed_day_rate(policy, g) for g in range(6)] == [0, 0, 0, 5000, 6000, 7000]
    assert [is_eligible(policy, g) for g in range(6)] == [False] * 3 + [True] * 3


# Validity by grade (issue 12): (stored per-grade map or None, validity_months, grade → months).
VALIDITY = [
    (None, 24, {0: 24, 1: 24, 2: 24, 3: 24, 4: 24, 5: 24}),  # stored before it existed
    (None, 36, {0: 36, 2: 36, 3: 36, 5: 36}),
    ({"3": 24, "4": 24, "5": 12}, 24, {0: 24, 2: 24, 3: 24, 4: 24, 5: 12}),
    ({"3": 120, "4": 1, "5": 60}, 6, {1: 6, 3: 120, 4: 1, 5: 60}),
]


@pytest.mark.parametrize(("by_grade", "general", "expected"), VALIDITY)
def test_validity_months_by_grade(by_grade: dict | None, general: int,
                                  expected: dict[int, int]) -> None:
    data = definition(validity_months=general, renewal_lead_days=20,
                      validity_months_by_grade=by_grade)
    if by_grade is None:
        del data["validity_months_by_grade"]
    policy = parse_policy(data)
    assert {g: validity_months(policy, g) for g in expected} == expected
    assert parse_policy(policy_as_json(policy)) == policy


@pytest.mark.parametrize(("by_grade", "field"), [
    ({"3": 24, "4": 24, "5": 0}, "validity_months_by_grade.5"),
    ({"3": 24, "4": 121, "5": 24}, "validity_months_by_grade.4"),
    ({"3": 24, "4": 24}, "validity_months_by_grade.5"),
    ({"2": 24, "3": 24, "4": 24, "5": 24}, "validity_months_by_grade.2"),
    ({"3": 24, "4": 24, "5": "两年"}, "validity_months_by_grade.5"),
])
def test_validity_by_grade_problems_name_the_grade(by_grade: dict, field: str) -> None:
    assert list(problems_of(definition(validity_months_by_grade=by_grade))) == [field]


def test_renewal_lead_must_be_shorter_than_every_grades_validity() -> None:
    data = definition(renewal_lead_days=60, validity_months_by_grade={"3": 24, "4": 2, "5": 24})
    assert list(problems_of(data)) == ["renewal_lead_days"]


def test_policy_is_frozen() -> None:
    policy = parse_policy(fixture()["definition"])
    with pytest.raises(AttributeError):
        policy.notice_days = 7  # type: ignore[misc]


# --- one field wrong: that field, and only that field, is reported --------------------------

GOOD_VISITS = {"3": 2, "4": 3, "5": 4}
GOOD_BEDS = {"3": 5000, "4": 6000, "5": 7000}

BAD = [
    ("eligible_grades", [], "eligible_grades"),
    ("eligible_grades", [0, 3, 4, 5], "eligible_grades"),
    ("eligible_grades", [3, 4, 6], "eligible_grades"),
    ("eligible_grades", [3, 3, 4, 5], "eligible_grades"),
    ("eligible_grades", [3, 4, True], "eligible_grades"),
    ("eligible_grades", "3,4,5", "eligible_grades"),
    ("family_subsidy_fen", -1, "family_subsidy_fen"),
    ("family_subsidy_fen", 450.0, "family_subsidy_fen"),
    ("family_subsidy_fen", True, "family_subsidy_fen"),
    ("family_subsidy_fen", "450", "family_subsidy_fen"),
    ("family_subsidy_fen", None, "family_subsidy_fen"),
    ("family_subsidy_fen", MAX_FEN + 1, "family_subsidy_fen"),
    ("visits_per_month", {**GOOD_VISITS, "3": 0}, "visits_per_month.3"),
    ("visits_per_month", {**GOOD_VISITS, "4": 32}, "visits_per_month.4"),
    ("visits_per_month", {**GOOD_VISITS, "5": 4.0}, "visits_per_month.5"),
    ("visits_per_month", {**GOOD_VISITS, "5": True}, "visits_per_month.5"),
    ("visits_per_month", [2, 3, 4], "visits_per_month"),
    ("visit_rate_fen", 80.5, "visit_rate_fen"),
    ("visit_rate_fen", -8000, "visit_rate_fen"),
    ("min_visit_minutes", 0, "min_visit_minutes"),
    ("min_visit_minutes", 481, "min_visit_minutes"),
    ("min_visit_minutes", True, "min_visit_minutes"),
    ("min_visit_minutes", "30", "min_visit_minutes"),
    ("bed_day_rate_fen", {**GOOD_BEDS, "3": -1}, "bed_day_rate_fen.3"),
    ("bed_day_rate_fen", {**GOOD_BEDS, "4": 60.0}, "bed_day_rate_fen.4"),
    ("bed_day_rate_fen", {**GOOD_BEDS, "5": False}, "bed_day_rate_fen.5"),
    ("bed_day_rate_fen", None, "bed_day_rate_fen"),
    ("deposit_basis_points", -1, "deposit_basis_points"),
    ("deposit_basis_points", 10001, "deposit_basis_points"),
    ("deposit_basis_points", 5.0, "deposit_basis_points"),
    ("monthly_budget_fen", -1, "monthly_budget_fen"),
    ("monthly_budget_fen", 1.5, "monthly_budget_fen"),
    ("monthly_budget_fen", False, "monthly_budget_fen"),
    ("notice_days", 0, "notice_days"),
    ("notice_days", 61, "notice_days"),
    ("notice_day_kind", "natural", "notice_day_kind"),
    ("notice_day_kind", None, "notice_day_kind"),
    ("renotice_after_reassessment", 0, "renotice_after_reassessment"),
    ("renotice_after_reassessment", "false", "renotice_after_reassessment"),
    ("reassessment_working_days", 0, "reassessment_working_days"),
    ("reassessment_working_days", 61, "reassessment_working_days"),
    ("validity_months", 0, "validity_months"),
    ("validity_months", 121, "validity_months"),
    ("validity_months", True, "validity_months"),
    ("renewal_lead_days", 0, "renewal_lead_days"),
    ("renewal_lead_days", 366, "renewal_lead_days"),
    ("min_disability_months", -1, "min_disability_months"),
    ("min_disability_months", 61, "min_disability_months"),
    ("reapply_months", 61, "reapply_months"),
    ("reapply_months", 6.0, "reapply_months"),
    ("bureau_name", "", "bureau_name"),
    ("bureau_name", "   ", "bureau_name"),
    ("bureau_name", "局" * 101, "bureau_name"),
    ("bureau_name", "肥城市\n医疗保障局", "bureau_name"),
    ("bureau_name", 5, "bureau_name"),
    ("objection_how", "", "objection_how"),
    ("objection_how", "字" * 1001, "objection_how"),
    ("objection_how", None, "objection_how"),
    ("care_required", [], "care_required"),
    ("care_required", "B01,B04", "care_required"),
    ("care_required", ["B01", 4], "care_required"),
    ("care_required", ["B01", "b04"], "care_required"),
    ("care_required", ["B01", "01"], "care_required"),
    ("care_required", ["B01", "B01"], "care_required"),
    ("care_required", None, "care_required"),
    ("care_optional", ["B02", "B02"], "care_optional"),
    ("care_optional", ["B02", "头面部清洁"], "care_optional"),
    ("care_optional", ["B02", "B01"], "care_optional"),  # B01 is required
    ("care_optional", {"B02": 1}, "care_optional"),
    ("care_optional", None, "care_optional"),
    ("answer_working_days", 0, "answer_working_days"),
    ("answer_working_days", "5", "answer_working_days"),
    ("letter_working_days", 121, "letter_working_days"),
    ("validity_months_by_grade", {"3": 24, "4": 24, "5": 0}, "validity_months_by_grade.5"),
    ("validity_months_by_grade", 24, "validity_months_by_grade"),
    ("min_video_coverage_percent", 49, "min_video_coverage_percent"),
    ("min_video_coverage_percent", 101, "min_video_coverage_percent"),
    ("min_video_coverage_percent", 80.5, "min_video_coverage_percent"),
    ("spotcheck_basis_points", -1, "spotcheck_basis_points"),
    ("spotcheck_basis_points", 10001, "spotcheck_basis_points"),
    ("spotcheck_basis_points", 5.0, "spotcheck_basis_points"),
    ("late_entry_hours", 0, "late_entry_hours"),
    ("late_entry_hours", 721, "late_entry_hours"),
    ("returnvisit_basis_points", 10001, "returnvisit_basis_points"),
    ("returnvisit_basis_points", -1, "returnvisit_basis_points"),
    ("returnvisit_minimum", -1, "returnvisit_minimum"),
    ("returnvisit_minimum", 101, "returnvisit_minimum"),
    ("inspection_speed_kmh", 4, "inspection_speed_kmh"),
    ("inspection_speed_kmh", 301, "inspection_speed_kmh"),
    ("inspection_same_spot_metres", 0, "inspection_same_spot_metres"),
    ("inspection_same_spot_metres", 201, "inspection_same_spot_metres"),
    ("inspection_far_metres", 99, "inspection_far_metres"),
    ("inspection_far_metres", 20001, "inspection_far_metres"),
    ("inspection_far_share_percent", 0, "inspection_far_share_percent"),
    ("inspection_far_share_percent", 101, "inspection_far_share_percent"),
    ("inspection_burst_count", 1, "inspection_burst_count"),
    ("inspection_burst_count", 101, "inspection_burst_count"),
    ("inspection_burst_minutes", 0, "inspection_burst_minutes"),
    ("inspection_burst_minutes", 241, "inspection_burst_minutes"),
    ("inspection_burst_hours", 0, "inspection_burst_hours"),
    ("inspection_burst_hours", 721, "inspection_burst_hours"),
]


def test_every_parameter_has_a_bad_row() -> None:
    assert {field for field, _, _ in BAD} == set(PARAMETER_NAMES)


@pytest.mark.parametrize(("field", "value", "reported"), BAD,
                         ids=[f"{f}={v!r}"[:60] for f, v, _ in BAD])
def test_one_bad_field_reports_exactly_that_field(field: str, value: Any, reported: str) -> None:
    problems = problems_of(definition(**{field: value}))
    assert list(problems) == [reported]
    assert problems[reported]  # a message saying what to do
    assert problems[reported] not in (MISSING, UNKNOWN)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("visits_per_month", {**GOOD_VISITS, "3": 0}, "每月上门次数应为1到31之间的整数（次/月）"),
        ("deposit_basis_points", 10001,
         "质量保证金比例应为0到100之间的百分数，最多两位小数，如 5 或 12.5"),
        ("min_visit_minutes", 0, "最短上门时长应为1到480之间的整数（分钟）"),
        ("family_subsidy_fen", "abc", FORM_MONEY_PROBLEM),
        ("family_subsidy_fen", -1, "金额不能为负数"),
        ("family_subsidy_fen", 450.0, "金额应为以分为单位的整数（1元=100分），不能有小数"),
        ("notice_day_kind", "natural", "请选择自然日或工作日"),
        ("renotice_after_reassessment", 1, "请选择是或否"),
        ("care_required", [], "请至少选择一个必选护理项目"),
        ("care_required", ["B01", "X1"],
         "无法识别的护理项目编号：X1（编号为字母加数字，如 B01、C05）"),
        ("care_optional", ["C05", "C06", "C05", "C06", "C07"],
         "护理项目编号重复：C05、C06，每个编号只填一次"),
        ("care_optional", ["B02", "B04", "B01"],
         "B01、B04 已是必选护理项目，不能同时作为可选项目，请在可选项目中取消勾选"),
    ],
)
def test_messages_say_what_to_write(field: str, value: Any, message: str) -> None:
    assert problems_of(definition(**{field: value})) == {
        field if not isinstance(value, dict) else f"{field}.3": message}


def test_bools_are_not_ints_and_floats_are_not_fen() -> None:
    problems = problems_of(definition(notice_days=True, validity_months=False,
                                      visit_rate_fen=8000.0, family_subsidy_fen=45000.0,
                                      visits_per_month={"3": True, "4": 3, "5": 4}))
    assert set(problems) == {"notice_days", "validity_months", "visit_rate_fen",
                             "family_subsidy_fen", "visits_per_month.3"}


def test_several_problems_are_all_reported_in_parameter_order() -> None:
    problems = problems_of(definition(
        family_subsidy_fen=-5, min_visit_minutes=0, notice_day_kind="x", bureau_name="",
        bed_day_rate_fen={"3": 5000, "4": -1, "5": 7000}, extra=1,
    ))
    assert list(problems) == ["family_subsidy_fen", "min_visit_minutes", "bed_day_rate_fen.4",
                              "notice_day_kind", "bureau_name", "extra"]


# What the Feicheng version stored before the bureau's contact moved to the pooling region
# holds (ltc.regions; versions are immutable, so stored rows keep these keys).
RETIRED_VALUES = {"bureau_phone": "0538-3200000",
                  "bureau_address": "山东省肥城市新城街道（地址待核实）"}


def test_the_bureau_contact_is_no_longer_policy() -> None:
    assert set(RETIRED) == set(RETIRED_VALUES)
    assert not set(RETIRED) & set(PARAMETER_NAMES)
    assert not set(RETIRED) & set(form_values(parse_policy(fixture()["definition"])))


@pytest.mark.parametrize("name", sorted(RETIRED_VALUES))
def test_a_new_definition_naming_a_retired_parameter_is_told_where_it_went(name: str) -> None:
    problems = problems_of(definition(**{name: RETIRED_VALUES[name]}))
    assert problems == {name: RETIRED[name]}
    assert "地区管理" in problems[name] and "ltc region set-bureau" in problems[name]
    # The admin form has no such input; one posted anyway is not a parameter and ignored.
    assert name not in from_form(posted(**{name: RETIRED_VALUES[name]}))


def test_a_stored_definition_with_retired_parameters_still_reads() -> None:
    stored = definition(**RETIRED_VALUES)
    assert parse_stored(stored) == parse_policy(fixture()["definition"])
    # Only the retired names are ignored: anything else unknown, or a bad value, still fails.
    with pytest.raises(PolicyError) as caught:
        parse_stored({**stored, "family_subsidy": 450, "notice_days": 0})
    assert set(caught.value.problems) == {"family_subsidy", "notice_days"}


INSPECTION = ("inspection_speed_kmh", "inspection_same_spot_metres", "inspection_far_metres",
              "inspection_far_share_percent", "inspection_burst_count",
              "inspection_burst_minutes", "inspection_burst_hours")


def test_unknown_and_missing_keys() -> None:
    data = definition(family_subsidy=450)
    del data["notice_days"]
    del data["objection_how"]
    assert problems_of(data) == {"notice_days": MISSING, "objection_how": MISSING,
                                 "family_subsidy": UNKNOWN}
    # Parameters added later have a default for the versions stored before them.
    defaulted = {p.name for p in PARAMETERS if p.default is not None or p.default_from}
    assert defaulted == {"answer_working_days", "letter_working_days",
                         "validity_months_by_grade", "min_video_coverage_percent",
                         "spotcheck_basis_points", "late_entry_hours",
                         "returnvisit_basis_points", "returnvisit_minimum", *INSPECTION}
    assert problems_of({}) == {name: MISSING for name in PARAMETER_NAMES
                               if name not in defaulted}
    older = definition()
    del older["answer_working_days"], older["letter_working_days"]
    del older["validity_months_by_grade"]
    del older["min_video_coverage_percent"]
    del older["spotcheck_basis_points"]
    older.pop("late_entry_hours", None)
    older.pop("returnvisit_basis_points", None)
    older.pop("returnvisit_minimum", None)
    for name in INSPECTION:
        older.pop(name, None)
    policy = parse_policy(older)
    assert (policy.answer_working_days, policy.letter_working_days) == (5, 30)
    assert policy.validity_months_by_grade == {3: 24, 4: 24, 5: 24}
    assert policy.min_video_coverage_percent == 80
    assert policy.spotcheck_basis_points == 500
    assert policy.late_entry_hours == 48
    assert (policy.returnvisit_basis_points, policy.returnvisit_minimum) == (500, 3)
    assert [getattr(policy, name) for name in INSPECTION] == [60, 20, 500, 50, 5, 10, 48]


def test_not_an_object() -> None:
    assert list(problems_of([1, 2, 3])) == ["definition"]


def test_error_lists_field_and_message_lines() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(definition(notice_days=0, visits_per_month={"3": 40, "4": 3, "5": 4}))
    error = caught.value
    assert str(error).splitlines() == [
        "visits_per_month.3: 每月上门次数应为1到31之间的整数（次/月）",
        "notice_days: 公示期应为1到60之间的整数（天）",
    ]
    assert isinstance(error, InvalidInput)  # the web layer shows it like any other form error
    assert error.as_json()["error"]["fields"] == error.problems


# --- per-grade maps follow the eligible grades ------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"visits_per_month": {"3": 2, "4": 3}},
         {"visits_per_month.5": "请填写此等级的每月上门次数"}),
        ({"bed_day_rate_fen": {**GOOD_BEDS, "2": 4000}},
         {"bed_day_rate_fen.2": "该等级不在享受待遇的失能等级内，请删去此项"}),
        ({"visits_per_month": {**GOOD_VISITS, "x": 1}},
         {"visits_per_month.x": "不是有效的失能等级（1到5级）"}),
        ({"visits_per_month": {**GOOD_VISITS, "6": 1}},
         {"visits_per_month.6": "不是有效的失能等级（1到5级）"}),
        ({"eligible_grades": [4, 5]},
         {"visits_per_month.3": "该等级不在享受待遇的失能等级内，请删去此项",
          "bed_day_rate_fen.3": "该等级不在享受待遇的失能等级内，请删去此项",
          "validity_months_by_grade.3": "该等级不在享受待遇的失能等级内，请删去此项"}),
        ({"eligible_grades": [2, 3, 4, 5]},
         {"visits_per_month.2": "请填写此等级的每月上门次数",
          "bed_day_rate_fen.2": "请填写此等级的机构护理床日标准",
          "validity_months_by_grade.2": "请填写此等级的评估结论有效期"}),
    ],
)
def test_grade_maps_name_exactly_the_eligible_grades(changes: dict, expected: dict) -> None:
    assert problems_of(definition(**changes)) == expected


def test_fewer_eligible_grades_with_matching_maps() -> None:
    policy = parse_policy(definition(eligible_grades=[5, 4], visits_per_month={"5": 8, "4": 4},
                                     bed_day_rate_fen={"4": 100, "5": 200},
                                     validity_months_by_grade={"4": 24, "5": 12}))
    assert policy.eligible_grades == (4, 5)
    assert policy.visits_per_month == {4: 4, 5: 8}
    assert quota(policy, 3) == 0 and bed_day_rate(policy, 5) == 200


def test_renewal_lead_must_fall_inside_the_validity() -> None:
    assert list(problems_of(definition(validity_months=2, renewal_lead_days=60))) == [
        "renewal_lead_days"]
    assert parse_policy(definition(validity_months=3, renewal_lead_days=60)).validity_months == 3


def test_package_codes_are_sorted_and_optional_may_be_empty() -> None:
    policy = parse_policy(definition(care_required=["B04", "B01"], care_optional=[]))
    assert (policy.care_required, policy.care_optional) == (("B01", "B04"), ())
    assert policy_as_json(policy)["care_required"] == ["B01", "B04"]


def test_texts_are_trimmed() -> None:
    policy = parse_policy(definition(bureau_name="  肥城市医疗保障局 ",
                                     objection_how="第一行\r\n第二行\n"))
    assert policy.bureau_name == "肥城市医疗保障局"
    assert policy.objection_how == "第一行\n第二行"


# --- round trips and the admin form ---------------------------------------------------------

def test_as_json_round_trip() -> None:
    policy = parse_policy(definition(monthly_budget_fen=123456789))
    as_json = policy_as_json(policy)
    assert json.loads(json.dumps(as_json)) == as_json
    assert as_json == definition(monthly_budget_fen=123456789)
    assert parse_policy(as_json) == policy


def test_form_values_and_back() -> None:
    policy = parse_policy(definition(monthly_budget_fen=100000005, deposit_basis_points=1250))
    values = form_values(policy)
    assert values["family_subsidy_fen"] == "450.00"
    assert values["visit_rate_fen"] == "80.00"
    assert values["monthly_budget_fen"] == "1000000.05"
    assert values["bed_day_rate_fen.4"] == "60.00"
    assert values["visits_per_month.5"] == "4"
    assert values["deposit_basis_points"] == "12.5"
    assert values["spotcheck_basis_points"] == "5"
    assert {k for k in values if k.startswith("eligible_grades.")} == {
        "eligible_grades.3", "eligible_grades.4", "eligible_grades.5"}
    assert {k for k in values if k.startswith("care_required.")} == {
        f"care_required.{code}" for code in REQUIRED}
    assert values["renotice_after_reassessment"] == "false"
    assert all(isinstance(v, str) for v in values.values())
    assert parse_policy(from_form(values)) == policy


def test_parameters_describe_the_form() -> None:
    assert PARAMETER_NAMES == tuple(Policy.__dataclass_fields__)
    kinds = {"grades", "fen", "int", "percent", "bool", "text", "choice", "grade_fen",
             "grade_int", "codes"}
    assert {p.kind for p in PARAMETERS} <= kinds
    by_name = {p.name: p for p in PARAMETERS}
    assert (by_name["family_subsidy_fen"].label_zh, by_name["family_subsidy_fen"].unit_zh) == (
        "家庭护理补贴", "元/月")
    assert dict(by_name["notice_day_kind"].choices) == {"calendar": "自然日", "working": "工作日"}
    assert [(by_name[n].label_zh, by_name[n].kind) for n in ("care_required", "care_optional")] == [
        ("必选护理项目", "codes"), ("可选护理项目", "codes")]
    for p in PARAMETERS:  # every field is labelled and explained in Chinese
        assert p.label_zh and not p.label_zh.isascii() and p.help_zh and not p.help_zh.isascii()
        if p.kind in ("int", "percent", "grade_int"):
            assert p.bounds[0] < p.bounds[1], p.name
    policy = parse_policy(fixture()["definition"])
    field_names = {name.split(".")[0] for name in form_values(policy)}
    assert field_names == set(PARAMETER_NAMES)


def posted(**changes: str) -> dict[str, str]:
    values = form_values(parse_policy(fixture()["definition"]))
    values.update(changes)
    return values


def ticked(name: str, *items: object, **changes: str) -> dict[str, str]:
    """The posted form with exactly these grades or care items of `name` ticked."""
    values = {k: v for k, v in posted(**changes).items() if not k.startswith(name + ".")}
    return {**values, **{f"{name}.{item}": "on" for item in items}}


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("450", 45000), ("450.00", 45000), ("450.5", 45050), (" 0.07 ", 7), ("¥1,234.56", 123456),
     ("４５０．００", 45000), ("450元", 45000), ("0", 0)],
)
def test_form_money_in_yuan(typed: str, fen: int) -> None:
    assert parse_policy(from_form(posted(family_subsidy_fen=typed))).family_subsidy_fen == fen


@pytest.mark.parametrize("typed", ["", "abc", "450.005", "-5", "4 50", "1e3", "NaN", "9" * 30])
def test_form_bad_money_is_reported_on_its_input(typed: str) -> None:
    assert problems_of(from_form(posted(family_subsidy_fen=typed))) == {
        "family_subsidy_fen": FORM_MONEY_PROBLEM}


@pytest.mark.parametrize(
    ("typed", "basis_points"),
    [("0", 0), ("0.01", 1), ("0.1", 10), ("5", 500), ("5.00", 500), ("12.5", 1250),
     ("12.34", 1234), ("99.99", 9999), ("100", 10000), ("100.00", 10000), (" 7 ", 700),
     ("5%", 500), ("５．５％", 550), ("007", 700)],
)
def test_percent_is_converted_exactly_to_basis_points(typed: str, basis_points: int) -> None:
    assert parse_percent(typed) == basis_points
    policy = parse_policy(from_form(posted(deposit_basis_points=typed)))
    assert policy.deposit_basis_points == basis_points
    assert parse_percent(form_values(policy)["deposit_basis_points"]) == basis_points


@pytest.mark.parametrize("typed", ["", "abc", "-1", "-0.01", "100.001", "0.005", "100.01",
                                   "101", "1000", "5.", ".5", "1e2", "5 %5", "NaN", "五"])
def test_a_bad_percent_is_refused_on_its_input(typed: str) -> None:
    assert problems_of(from_form(posted(deposit_basis_points=typed))) == {
        "deposit_basis_points": "质量保证金比例应为0到100之间的百分数，最多两位小数，如 5 或 12.5"}


def test_form_problems_use_the_input_names() -> None:
    values = ticked("eligible_grades", "x", **{
        "visits_per_month.4": "三", "bed_day_rate_fen.5": "七十",
        "min_visit_minutes": "半小时", "notice_days": "99", "spotcheck_basis_points": "5.555",
        "renotice_after_reassessment": "maybe", "bureau_name": " "})
    assert set(problems_of(from_form(values))) == {
        "visits_per_month.4", "bed_day_rate_fen.5", "min_visit_minutes", "notice_days",
        "spotcheck_basis_points", "eligible_grades", "renotice_after_reassessment",
        "bureau_name"}


def test_form_details() -> None:
    values = ticked("eligible_grades", 5, 4, monthly_budget_fen="  ",
                    **{"visits_per_month.1": "9", "_csrf": "token", "save": "保存"})
    del values["renotice_after_reassessment"]  # an unticked checkbox is not posted
    definition_ = from_form(values)
    assert definition_["monthly_budget_fen"] is None
    assert definition_["renotice_after_reassessment"] is False
    assert definition_["visits_per_month"] == {"4": 3, "5": 4}  # grades 1 and 3 not ticked
    assert "_csrf" not in definition_
    policy = parse_policy(definition_)
    assert policy.eligible_grades == (4, 5)
    assert parse_policy(from_form(posted(renotice_after_reassessment="on"))
                        ).renotice_after_reassessment is True


def test_form_no_grade_ticked_is_one_problem() -> None:
    assert problems_of(from_form(ticked("eligible_grades"))) == {
        "eligible_grades": "请选择享受待遇的失能等级：1到5级中至少选一个，不能重复"}


def test_form_new_eligible_grade_needs_its_inputs() -> None:
    assert problems_of(from_form(ticked("eligible_grades", 2, 3, 4, 5))) == {
        "visits_per_month.2": "请填写此等级的每月上门次数",
        "bed_day_rate_fen.2": "请填写此等级的机构护理床日标准",
        "validity_months_by_grade.2": "请填写此等级的评估结论有效期",
    }
    values = ticked("eligible_grades", 2, 3, 4, 5,
                    **{"visits_per_month.2": "1", "bed_day_rate_fen.2": "40",
                       "validity_months_by_grade.2": "12"})
    policy = parse_policy(from_form(values))
    assert (quota(policy, 2), bed_day_rate(policy, 2)) == (1, 4000)
    assert validity_months(policy, 2) == 12


def test_form_care_items_are_ticked() -> None:
    values = {k: v for k, v in ticked("care_optional", "B02").items()
              if not k.startswith("care_required.")}
    policy = parse_policy(from_form({**values, "care_required.B01": "on",
                                     "care_required.B04": "on"}))
    assert (policy.care_required, policy.care_optional) == (("B01", "B04"), ("B02",))


def test_form_care_item_problems_are_on_their_fieldsets() -> None:
    values = ticked("care_required", **{"care_optional.B02": "on"})
    assert problems_of(from_form(values)) == {"care_required": "请至少选择一个必选护理项目"}
    both = ticked("care_optional", REQUIRED[0])
    assert problems_of(from_form(both)) == {"care_optional": (
        f"{REQUIRED[0]} 已是必选护理项目，不能同时作为可选项目，请在可选项目中取消勾选")}
    assert parse_policy(from_form(ticked("care_optional"))).care_optional == ()


def test_form_missing_input_is_missing() -> None:
    values = posted()
    del values["notice_days"]
    del values["visits_per_month.3"]
    assert problems_of(from_form(values)) == {
        "visits_per_month.3": "请填写此等级的每月上门次数", "notice_days": MISSING}


def test_a_version_is_described_in_words() -> None:
    policy = parse_policy(definition(monthly_budget_fen=None, deposit_basis_points=1250))
    lines = dict(describe(policy, {"B01": "头面部清洁"}))
    assert lines["享受待遇的失能等级"] == "重度失能Ⅰ级、重度失能Ⅱ级、重度失能Ⅲ级"
    assert lines["家庭护理补贴"] == "450.00元/月"
    assert lines["每月上门次数"] == "重度失能Ⅰ级 2次/月；重度失能Ⅱ级 3次/月；重度失能Ⅲ级 4次/月"
    assert lines["质量保证金比例"] == "12.5%"
    assert lines["月度基金预算"] == "未设定"
    assert lines["公示期计算方式"] in ("自然日", "工作日")
    assert lines["必选护理项目"].startswith("头面部清洁、")


# --- random valid policies ---------------------------------------------------------------

FEN = st.integers(0, MAX_FEN)
LINE = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
MULTILINE = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), include_characters="\n")


def text(alphabet: st.SearchStrategy[str], longest: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=longest).filter(lambda s: s.strip())


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    grades = draw(st.lists(st.integers(1, 5), min_size=1, max_size=5, unique=True))
    validity = draw(st.integers(1, 120))
    codes = draw(st.lists(st.from_regex(r"[A-Z]{1,2}[0-9]{2,3}", fullmatch=True), min_size=1,
                          max_size=50, unique=True))
    split = draw(st.integers(1, len(codes)))
    return {
        "eligible_grades": grades,
        "family_subsidy_fen": draw(FEN),
        "visits_per_month": {str(g): draw(st.integers(1, 31)) for g in grades},
        "visit_rate_fen": draw(FEN),
        "min_visit_minutes": draw(st.integers(1, 480)),
        "bed_day_rate_fen": {str(g): draw(FEN) for g in grades},
        "deposit_basis_points": draw(st.integers(0, 10000)),
        "monthly_budget_fen": draw(st.none() | FEN),
        "notice_days": draw(st.integers(1, 60)),
        "notice_day_kind": draw(st.sampled_from(["calendar", "working"])),
        "renotice_after_reassessment": draw(st.booleans()),
        "reassessment_working_days": draw(st.integers(1, 60)),
        "validity_months": validity,
        "renewal_lead_days": draw(st.integers(1, min(365, validity * 28 - 1))),
        "min_disability_months": draw(st.integers(0, 60)),
        "reapply_months": draw(st.integers(0, 60)),
        "bureau_name": draw(text(LINE, 100)),
        "objection_how": draw(text(MULTILINE, 1000)),
        "care_required": codes[:split],
        "care_optional": codes[split:],
        "min_video_coverage_percent": draw(st.integers(50, 100)),
        "spotcheck_basis_points": draw(st.integers(0, 10000)),
    }


@settings(max_examples=200, deadline=None)
@given(definitions())
def test_random_policies_round_trip(data: dict[str, Any]) -> None:
    policy = parse_policy(data)
    assert parse_policy(json.loads(json.dumps(policy_as_json(policy)))) == policy
    assert parse_policy(from_form(form_values(policy))) == policy
