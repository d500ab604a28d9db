"""Application states, the refusal grounds at acceptance (SPEC §3) and application numbers."""

from dataclasses import replace
from datetime import date

import pytest

from ltc.applications.rules import (
    TRANSITIONS,
    AcceptanceFacts,
    AcceptancePolicy,
    ApplicationState,
    Ground,
    Material,
    Requirement,
    can_move,
    missing_materials,
    refusal_grounds,
)
from ltc.clock import add_months

POLICY = AcceptancePolicy(min_disability_months=6, reapply_months=6)
CHECKLIST = (
    Material("application_form", "申请表", Requirement.always),
    Material("id_card", "身份证", Requirement.always),
    Material("insurance_card", "医保参保凭证", Requirement.always),
    Material("medical_records", "诊断证明或病历", Requirement.always),
    Material("agent_id_card", "代办人身份证", Requirement.when_agent),
    Material("care_certificate", "残疾证", Requirement.optional),
)
ALL_REQUIRED = ("application_form", "id_card", "insurance_card", "medical_records")
TODAY = date(2026, 11, 22)

GOOD = AcceptanceFacts(
    today=TODAY, enrolled=True, not_enrolled_reason=None, insured_region_code="370983",
    pooling_region_code="370983", person_region_path="370983/370983001/370983001001",
    handling_region_path="370983", disabled_since=date(2026, 1, 1), checklist=CHECKLIST,
    materials=ALL_REQUIRED, has_agent=False, last_conclusion_on=None,
)


def codes(facts: AcceptanceFacts, policy: AcceptancePolicy = POLICY) -> list[str]:
    return [g.code for g in refusal_grounds(facts, policy)]


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("all good", {}, []),
        ("not enrolled", {"enrolled": False, "not_enrolled_reason": "未查到参保记录"},
         [Ground.not_enrolled]),
        # The enrolment system could not be asked: unknown is never "not enrolled".
        ("enrolment unknown", {"enrolled": None,
                               "not_enrolled_reason": "参保状态暂无法查询"}, []),
        ("enrolment unknown, too recent", {"enrolled": None, "disabled_since": TODAY},
         [Ground.disability_too_recent]),
        # Disability: 6 calendar months to the day is enough; one day less is not.
        ("disabled exactly 6 months", {"disabled_since": date(2026, 5, 22)}, []),
        ("disabled one day short", {"disabled_since": date(2026, 5, 23)},
         [Ground.disability_too_recent]),
        ("disabled since today", {"disabled_since": TODAY}, [Ground.disability_too_recent]),
        ("month-end: 6 months from 05-31 is 11-30",
         {"today": date(2026, 11, 30), "disabled_since": date(2026, 5, 31)}, []),
        ("month-end: not yet on 11-29",
         {"today": date(2026, 11, 29), "disabled_since": date(2026, 5, 31)},
         [Ground.disability_too_recent]),
        ("month-end clamp: 08-31 + 6 months is 02-28",
         {"today": date(2027, 2, 28), "disabled_since": date(2026, 8, 31)}, []),
        ("materials missing", {"materials": ("application_form",)},
         [Ground.materials_incomplete]),
        ("agent files without their ID card", {"has_agent": True},
         [Ground.materials_incomplete]),
        ("agent files with their ID card",
         {"has_agent": True, "materials": (*ALL_REQUIRED, "agent_id_card")}, []),
        ("optional material never required", {"materials": ALL_REQUIRED}, []),
        ("conclusion exactly 6 months ago", {"last_conclusion_on": date(2026, 5, 22)}, []),
        ("conclusion less than 6 months ago", {"last_conclusion_on": date(2026, 5, 23)},
         [Ground.recent_conclusion]),
        ("conclusion long ago", {"last_conclusion_on": date(2024, 1, 1)}, []),
        ("insured in another pooling region", {"insured_region_code": "370982"},
         [Ground.outside_region]),
        ("insured at a town of this region", {"insured_region_code": "370983001"}, []),
        ("lives outside the clerk's town", {"handling_region_path": "370983/370983002"},
         [Ground.outside_region]),
        ("unscoped system check", {"handling_region_path": None}, []),
        ("every ground at once",
         {"enrolled": False, "not_enrolled_reason": "参保已终止", "disabled_since": TODAY,
          "materials": (), "last_conclusion_on": date(2026, 10, 1),
          "insured_region_code": "320101"},
         [Ground.not_enrolled, Ground.disability_too_recent, Ground.materials_incomplete,
          Ground.recent_conclusion, Ground.outside_region]),
    ],
)
def test_refusal_grounds(name, changes, expected) -> None:
    assert codes(replace(GOOD, **changes)) == [str(code) for code in expected], name


def test_every_missing_material_is_listed_at_once() -> None:
    facts = replace(GOOD, materials=("id_card",), has_agent=True)
    (ground,) = refusal_grounds(facts, POLICY)
    assert ground.code == Ground.materials_incomplete
    assert ground.message == ("缺少以下材料，请一次补齐：申请表、医保参保凭证、诊断证明或病历、"
                              "代办人身份证")
    assert [m.code for m in missing_materials(CHECKLIST, (), False)] == list(ALL_REQUIRED)


def test_messages_say_when_to_come_back() -> None:
    facts = replace(GOOD, disabled_since=date(2026, 10, 1), last_conclusion_on=date(2026, 9, 15),
                    enrolled=False, not_enrolled_reason="基本医疗保险参保已于2026-01-31终止")
    messages = {g.code: g.message for g in refusal_grounds(facts, POLICY)}
    assert messages["disability_too_recent"] == "失能自2026-10-01起，不满6个月；2027-04-01起可申请"
    assert messages["recent_conclusion"].endswith("2027-03-15起可重新申请")
    assert messages["not_enrolled"].startswith("基本医疗保险参保已于2026-01-31终止")


def test_policy_numbers_are_parameters() -> None:
    facts = replace(GOOD, disabled_since=date(2026, 9, 22), last_conclusion_on=date(2026, 9, 22))
    assert codes(facts) == ["disability_too_recent", "recent_conclusion"]
    assert codes(facts, AcceptancePolicy(min_disability_months=2, reapply_months=2)) == []


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 11, 22), -6, date(2026, 5, 22)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 1, 31), -2, date(2025, 11, 30)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 3, 10), 0, date(2026, 3, 10)),
    ],
)
def test_add_months(day, months, expected) -> None:
    assert add_months(day, months) == expected


def test_states_and_transitions() -> None:
    assert set(TRANSITIONS) == set(ApplicationState)
    assert ApplicationState.REJECTED.label == "不予受理"
    assert can_move("DRAFT", "SUBMITTED") and can_move("SUBMITTED", "ACCEPTED")
    assert can_move("SUBMITTED", "REJECTED") and can_move("ACCEPTED", "ASSIGNED")
    assert not can_move("DRAFT", "ACCEPTED") and not can_move("ACCEPTED", "REJECTED")
    assert not any(can_move("REJECTED", s) for s in ApplicationState)
