"""Agreement rules, table-driven: which days each state covers (every boundary), the
transition table, the reminder and expiry days, reading a form's text, and every validation
problem of each kind."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from stdnum.cn import ric

from ltc.agreements.rules import (
    ACCOUNT_FIELDS,
    FIELDS,
    RELATIONSHIPS,
    TRANSITIONS,
    AgreementKind,
    AgreementState,
    Parties,
    agreement_problems,
    can_transition,
    coverage,
    covers,
    due_to_expire,
    expired_change_day,
    normalised,
    overlaps,
    party_name,
    read_fields,
    reminder_due,
    separation_conflict,
)
from ltc.money import parse_yuan

STARTS, ENDS = date(2026, 1, 1), date(2026, 12, 31)
CHANGED = date(2026, 6, 15)  # suspended / terminated from this day
TODAY = date(2026, 3, 1)
DAY = timedelta(days=1)


def _agreement(state: str, changed: date | None = None, **extra: Any) -> dict[str, Any]:
    return {"state": state, "starts_on": STARTS, "ends_on": ENDS, "state_changed_on": changed,
            **extra}


# (state, state_changed_on) → the days in order: before start, start, day before the change,
# the change day, the last day, the day after the end.
BOUNDARY_DAYS = (STARTS - DAY, STARTS, CHANGED - DAY, CHANGED, ENDS, ENDS + DAY)
COVER_TABLE = [
    ("DRAFT", None, (False, False, False, False, False, False)),
    ("ACTIVE", None, (False, True, True, True, True, False)),
    # A resumed agreement's old change day (if any were left) does not matter.
    ("ACTIVE", CHANGED, (False, True, True, True, True, False)),
    ("SUSPENDED", CHANGED, (False, True, True, False, False, False)),
    ("TERMINATED", CHANGED, (False, True, True, False, False, False)),
    # Expired while active: the whole period; expired while suspended: before the suspension.
    ("EXPIRED", ENDS + DAY, (False, True, True, True, True, False)),
    ("EXPIRED", CHANGED, (False, True, True, False, False, False)),
    ("EXPIRED", None, (False, True, True, True, True, False)),
    # Terminated or suspended from its first day: covers nothing.
    ("TERMINATED", STARTS, (False, False, False, False, False, False)),
    ("SUSPENDED", STARTS, (False, False, False, False, False, False)),
    # Amended from CHANGED: the next version covers the days from it.
    ("AMENDED", CHANGED, (False, True, True, False, False, False)),
]


@pytest.mark.parametrize(("state", "changed", "expected"), COVER_TABLE)
def test_covers_every_state_at_every_boundary(state, changed, expected) -> None:
    agreement = _agreement(state, changed)
    assert tuple(covers(agreement, day) for day in BOUNDARY_DAYS) == expected


def test_coverage_is_the_span_of_covered_days() -> None:
    assert coverage(_agreement("ACTIVE")) == (STARTS, ENDS)
    assert coverage(_agreement("SUSPENDED", CHANGED)) == (STARTS, CHANGED - DAY)
    assert coverage(_agreement("TERMINATED", STARTS)) is None
    assert coverage(_agreement("DRAFT")) is None


@pytest.mark.parametrize(("span", "other", "expected"), [
    ((ENDS + DAY, ENDS + 40 * DAY), _agreement("ACTIVE"), False),
    ((ENDS, ENDS + 40 * DAY), _agreement("ACTIVE"), True),
    ((CHANGED, ENDS), _agreement("TERMINATED", CHANGED), False),
    ((CHANGED - DAY, ENDS), _agreement("TERMINATED", CHANGED), True),
    ((STARTS, ENDS), _agreement("DRAFT"), False),
])
def test_overlaps(span, other, expected) -> None:
    assert overlaps(span, other) is expected


def _other(kind: str, state: str = "ACTIVE", changed: date | None = None,
           starts: date = STARTS, ends: date = ENDS) -> dict[str, Any]:
    return {"kind": kind, "state": state, "starts_on": starts, "ends_on": ends,
            "state_changed_on": changed}


# (kind coming into force, its span, the organisation's other agreement) → conflict?
@pytest.mark.parametrize(("kind", "span", "other", "conflict"), [
    # Either direction, the same period.
    ("assessment", (STARTS, ENDS), _other("provider"), True),
    ("provider", (STARTS, ENDS), _other("assessment"), True),
    # Touching days are shared days: ends on our first day, starts on our last day.
    ("assessment", (ENDS, ENDS + 365 * DAY), _other("provider"), True),
    ("provider", (STARTS - 365 * DAY, STARTS), _other("assessment"), True),
    # The day after / before: apart.
    ("assessment", (ENDS + DAY, ENDS + 365 * DAY), _other("provider"), False),
    ("provider", (STARTS - 365 * DAY, STARTS - DAY), _other("assessment"), False),
    # One day inside the other.
    ("assessment", (CHANGED, CHANGED), _other("provider"), True),
    # Stopped covering before our span: terminated / suspended from our first day.
    ("assessment", (CHANGED, ENDS), _other("provider", "TERMINATED", CHANGED), False),
    ("assessment", (CHANGED, ENDS), _other("provider", "SUSPENDED", CHANGED), False),
    ("assessment", (CHANGED - DAY, ENDS), _other("provider", "TERMINATED", CHANGED), True),
    ("assessment", (STARTS, ENDS), _other("provider", "EXPIRED", ENDS + DAY), True),
    # A draft is not in force; the same kind is the one-per-party rule's business.
    ("assessment", (STARTS, ENDS), _other("provider", "DRAFT"), False),
    ("assessment", (STARTS, ENDS), _other("assessment"), False),
    ("provider", (STARTS, ENDS), _other("provider"), False),
    # Staff and caregiver agreements are not organisations' own functions.
    ("assessment", (STARTS, ENDS), _other("staff"), False),
    ("staff", (STARTS, ENDS), _other("assessment"), False),
    ("caregiver", (STARTS, ENDS), _other("assessment"), False),
])
def test_separation_conflict(kind, span, other, conflict) -> None:
    assert (separation_conflict(kind, span, [other]) is other) is conflict


def test_separation_names_the_first_conflicting_agreement() -> None:
    apart = _other("provider", starts=ENDS + DAY, ends=ENDS + 30 * DAY)
    clash = _other("provider", starts=ENDS, ends=ENDS + 30 * DAY)
    assert separation_conflict("assessment", (STARTS, ENDS), [apart, clash]) is clash
    assert separation_conflict("assessment", (STARTS, ENDS), []) is None


ALLOWED = {
    ("DRAFT", "ACTIVE"), ("DRAFT", "TERMINATED"),
    ("ACTIVE", "SUSPENDED"), ("ACTIVE", "EXPIRED"), ("ACTIVE", "TERMINATED"),
    ("ACTIVE", "AMENDED"),
    ("SUSPENDED", "ACTIVE"), ("SUSPENDED", "EXPIRED"), ("SUSPENDED", "TERMINATED"),
}


@pytest.mark.parametrize("before", list(AgreementState))
@pytest.mark.parametrize("after", list(AgreementState))
def test_transition_table(before, after) -> None:
    assert can_transition(before, after) is ((before, after) in ALLOWED)


def test_expired_and_terminated_are_final_and_every_state_has_a_label() -> None:
    assert TRANSITIONS[AgreementState.EXPIRED] == TRANSITIONS[AgreementState.TERMINATED] == set()
    assert TRANSITIONS[AgreementState.AMENDED] == set()
    assert [s.label for s in AgreementState] == ["草稿", "生效", "暂停", "到期", "终止", "已变更"]
    assert [k.label for k in AgreementKind] == ["评估机构", "护理服务机构", "服务人员",
                                                "家庭照护者"]


@pytest.mark.parametrize(("today", "due"), [
    (ENDS - 31 * DAY, False), (ENDS - 30 * DAY, True), (ENDS - DAY, True), (ENDS, True),
    (ENDS + DAY, False),
])
def test_reminder_is_due_from_30_days_before_the_last_day(today, due) -> None:
    assert reminder_due(ENDS, today) is due


@pytest.mark.parametrize(("today", "due"), [(ENDS, False), (ENDS + DAY, True)])
def test_an_agreement_expires_the_day_after_its_last_day(today, due) -> None:
    assert due_to_expire(ENDS, today) is due


def test_the_change_day_on_expiry_keeps_an_earlier_suspension() -> None:
    assert expired_change_day(_agreement("ACTIVE")) == ENDS + DAY
    assert expired_change_day(_agreement("SUSPENDED", CHANGED)) == CHANGED


@pytest.mark.parametrize(("text", "fen"), [
    ("80", 8000), ("80.5", 8050), ("80.05", 8005), ("¥1,080.00", 108000), ("０", 0),
    ("450元", 45000),
])
def test_parse_yuan(text, fen) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["-1", "80.001", "八十", "", "1e3"])
def test_parse_yuan_refuses(text) -> None:
    with pytest.raises(ValueError):
        parse_yuan(text)


def test_read_fields_reads_a_forms_text_and_keeps_typed_values() -> None:
    values, problems = read_fields(AgreementKind.provider, {
        "organisation": "7", "home_visits": "true", "institutional_beds": "20",
        "visit_rate_fen": "85.00", "bed_day_rates": {"3": "55", "4": "", 5: 7500},
        "starts_on": "2026-01-01", "ends_on": ENDS})
    assert problems == {}
    assert values == {"organisation": 7, "home_visits": True, "institutional_beds": 20,
                      "visit_rate_fen": 8500, "bed_day_rates": {3: 5500, 5: 7500},
                      "starts_on": STARTS, "ends_on": ENDS,
                      **dict.fromkeys(ACCOUNT_FIELDS, "")}


def test_read_fields_reports_what_it_cannot_read() -> None:
    values, problems = read_fields(AgreementKind.provider, {
        "organisation": "x", "institutional_beds": "-2", "visit_rate_fen": "-5",
        "bed_day_rates": {"3": "五十"}, "starts_on": "2026-13-01", "ends_on": ""})
    assert set(problems) == {"organisation", "institutional_beds", "visit_rate_fen",
                             "bed_day_rate_3", "starts_on"}
    assert values["ends_on"] is None and values["home_visits"] is False
    with pytest.raises(TypeError):
        read_fields(AgreementKind.assessment, {"staff": 1})


# --- validation per kind ---------------------------------------------------------------------

PROVIDER_ORG = {"id": 1, "kind": "provider", "active": True}
ASSESSMENT_ORG = {"id": 2, "kind": "assessment", "active": True}
NURSE = {"id": 10, "role": "provider", "organisation": 1, "active": True}


def _resident_id(body: str = "37098319800101002") -> str:
    return body + ric.calc_check_digit(body + "0")


BENEFICIARY_ID = _resident_id("37098319490315103")  # ends in X
BENEFICIARY = {"id": 5, "resident_id": BENEFICIARY_ID, "entitled": True}


GOOD: dict[AgreementKind, tuple[dict[str, Any], Parties]] = {
    AgreementKind.assessment: ({"organisation": 2}, Parties(organisation=ASSESSMENT_ORG)),
    AgreementKind.provider: ({"organisation": 1, "home_visits": True, "institutional_beds": 0,
                              "visit_rate_fen": None, "bed_day_rates": {},
                              "account_source": "entered", "confirmed_account": "",
                              "bank_name": "中国建设银行肥城支行",
                              "bank_account_name": "潮泉镇卫生院",
                              "bank_account": "6217 0000 0000 0000 002"},
                             Parties(organisation=PROVIDER_ORG)),
    AgreementKind.staff: ({"organisation": 1, "staff": 10, "qualification": "nurse"},
                          Parties(organisation=PROVIDER_ORG, staff=NURSE)),
    AgreementKind.caregiver: ({"beneficiary": 5, "caregiver_name": "李明",
                               "caregiver_resident_id": _resident_id(),
                               "caregiver_phone": "138 0000 0000", "relationship": "子女",
                               "bank_name": "中国农业银行肥城支行",
                               "bank_account": "6228 4800 1234 5678 9", "trained_on": TODAY,
                               "family_subsidy_fen": None},
                              Parties(beneficiary=BENEFICIARY)),
}


def _problems(kind: AgreementKind, parties: Parties | None = None, **changes: Any) -> dict:
    values, good_parties = GOOD[kind]
    fields = {"starts_on": STARTS, "ends_on": ENDS, **values, **changes}
    assert set(fields) == set(FIELDS[kind])
    return agreement_problems(kind, fields, parties or good_parties, TODAY)


@pytest.mark.parametrize("kind", list(AgreementKind))
def test_a_good_agreement_of_each_kind_has_no_problem(kind) -> None:
    assert _problems(kind) == {}


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"starts_on": None}, "starts_on", "请填写协议开始日期"),
    ({"ends_on": None}, "ends_on", "请填写协议结束日期"),
    ({"ends_on": STARTS - DAY}, "ends_on", "不能早于开始日期"),
    ({"ends_on": TODAY - DAY, "starts_on": TODAY - 9 * DAY}, "ends_on", "已经到期"),
    ({"ends_on": date(2031, 1, 1)}, "ends_on", "不能超过5年"),
])
@pytest.mark.parametrize("kind", list(AgreementKind))
def test_period_problems(kind, changes, field, words) -> None:
    problems = _problems(kind, **changes)
    assert list(problems) == [field] and words in problems[field]


def test_five_years_to_the_day_is_allowed() -> None:
    assert _problems(AgreementKind.assessment, ends_on=date(2030, 12, 31)) == {}


@pytest.mark.parametrize(("kind", "parties", "words"), [
    (AgreementKind.assessment, Parties(), "请选择您管辖范围内的评估机构"),
    (AgreementKind.assessment, Parties(organisation=PROVIDER_ORG), "不是评估机构"),
    (AgreementKind.provider, Parties(organisation=ASSESSMENT_ORG), "不是护理服务机构"),
    (AgreementKind.provider, Parties(organisation={**PROVIDER_ORG, "active": False}), "已停用"),
])
def test_organisation_problems(kind, parties, words) -> None:
    problems = _problems(kind, parties)
    assert list(problems) == ["organisation"] and words in problems["organisation"]


def test_a_provider_needs_a_scope() -> None:
    problems = _problems(AgreementKind.provider, home_visits=False, institutional_beds=0)
    assert list(problems) == ["scope"]
    assert _problems(AgreementKind.provider, home_visits=False, institutional_beds=30) == {}


REGISTER = {"bank_name": "中国工商银行肥城支行", "account_name": "潮泉镇卫生院",
            "account_no": "6222000000000000777"}


@pytest.mark.parametrize(("confirmed", "holds"), [
    ("6222000000000000777", True),  # the full number (the API, commands)
    ("***************0777", True),  # as the form shows it
    ("***************0111", False),  # the register changed since the form was shown
    ("6222000000000000111", False),
    ("****0777", False),  # another length: another account
    ("", False),
])
def test_a_register_account_is_confirmed_as_it_was_shown(confirmed, holds) -> None:
    problems = _problems(AgreementKind.provider, Parties(
        organisation=PROVIDER_ORG, register_account=REGISTER), account_source="register",
        confirmed_account=confirmed, bank_name="", bank_account_name="", bank_account="")
    assert ("account_source" not in problems) is holds


@pytest.mark.parametrize(("staff", "words"), [
    (None, "请选择服务人员"),
    ({**NURSE, "role": "assessor"}, "不是在用的护理机构人员账号"),
    ({**NURSE, "active": False}, "不是在用的护理机构人员账号"),
    ({**NURSE, "organisation": 99}, "不属于所选护理服务机构"),
])
def test_staff_must_be_a_provider_user_of_the_named_provider(staff, words) -> None:
    problems = _problems(AgreementKind.staff, Parties(organisation=PROVIDER_ORG, staff=staff))
    assert list(problems) == ["staff"] and words in problems["staff"]


def test_staff_needs_a_qualification() -> None:
    assert list(_problems(AgreementKind.staff, qualification="doctor")) == ["qualification"]


def test_every_caregiver_problem_at_once() -> None:
    problems = _problems(
        AgreementKind.caregiver, Parties(beneficiary={**BENEFICIARY, "entitled": False}),
        caregiver_name="李1", caregiver_resident_id="370983198001010021",
        caregiver_phone="12345", relationship="朋友", bank_name="", bank_account="12345",
        trained_on=TODAY + DAY, ends_on=STARTS - DAY)
    assert problems == {
        "ends_on": "结束日期不能早于开始日期",
        "beneficiary": "该人员没有有效的长护险待遇资格，不能签订家庭照护协议",
        "caregiver_name": "照护者姓名只能包含汉字、字母和间隔号（·），请删去数字或其他符号",
        "caregiver_resident_id": "身份证号码校验位不正确，请核对最后一位（也可能是前面某位输错）",
        "caregiver_phone": problems["caregiver_phone"],
        "relationship": "请选择照护者与被照护人的关系",
        "bank_name": "请填写开户银行名称，如 中国农业银行肥城市支行",
        "bank_account": "银行账号应为10到30位数字，请核对（可以含空格）",
        "trained_on": "培训日期不能晚于今天，请在培训完成后再签订协议",
    }
    assert "手机号码" in problems["caregiver_phone"] or "电话" in problems["caregiver_phone"]


@pytest.mark.parametrize(("changes", "parties", "field"), [
    ({"caregiver_resident_id": BENEFICIARY_ID.lower()}, None, "caregiver_resident_id"),
    ({"trained_on": None}, None, "trained_on"),
    ({"bank_account": "1" * 31}, None, "bank_account"),
    ({"bank_account": "１２３４５６７８９０"}, None, "bank_account"),  # full-width digits
    ({}, Parties(), "beneficiary"),
    ({"caregiver_name": ""}, None, "caregiver_name"),
])
def test_caregiver_problems(changes, parties, field) -> None:
    assert list(_problems(AgreementKind.caregiver, parties, **changes)) == [field]


def test_every_relationship_is_accepted() -> None:
    for relationship in RELATIONSHIPS:
        assert _problems(AgreementKind.caregiver, relationship=relationship) == {}


def test_read_problems_are_kept_and_not_reported_twice() -> None:
    problems = agreement_problems(AgreementKind.assessment, {
        "organisation": None, "starts_on": None, "ends_on": ENDS}, Parties(), TODAY,
        {"starts_on": "请按 2026-10-01 的格式填写开始日期"})
    assert problems["starts_on"] == "请按 2026-10-01 的格式填写开始日期"
    assert set(problems) == {"starts_on", "organisation"}


def test_normalised_values() -> None:
    values = {"starts_on": STARTS, "ends_on": ENDS, **GOOD[AgreementKind.caregiver][0],
              "caregiver_resident_id": " " + _resident_id("37098319490315103").lower()}
    stored = normalised(AgreementKind.caregiver, values)
    assert stored["caregiver_resident_id"] == BENEFICIARY_ID and BENEFICIARY_ID[-1] == "X"
    assert stored["caregiver_phone"] == "13800000000"
    assert stored["bank_account"] == "62284800123456789"
    provider = normalised(AgreementKind.provider, {
        **GOOD[AgreementKind.provider][0], "home_visits": False, "institutional_beds": 10,
        "visit_rate_fen": 9000, "bed_day_rates": {3: 5000}})
    assert provider["visit_rate_fen"] is None and provider["bed_day_rates"] == {3: 5000}


def test_party_name() -> None:
    assert party_name({"kind": "provider", "organisation.name": "潮泉镇卫生院"}) == "潮泉镇卫生院"
    assert party_name({"kind": "staff", "staff.display_name": "王护士",
                       "organisation.name": "潮泉镇卫生院"}) == "王护士（潮泉镇卫生院）"
    assert party_name({"kind": "caregiver", "caregiver_name": "李明",
                       "beneficiary.name": "张秀英"}) == "李明（照护 张秀英）"
