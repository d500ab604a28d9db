"""The `data` of every decision event type, as each context words it (ltc.decision_events):
stable English keys, a Chinese label beside every code, ISO dates, money in integer fen.
Pure, table-driven over every code that can appear."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ltc.assessments.rules import KIND_LABELS, GradeConcluded
from ltc.careplans.rules import CARE_FORM_LABELS, PlanConfirmed
from ltc.decision_events.rules import EventType
from ltc.entitlements.rules import (
    END_REASONS,
    PUBLISHED_KINDS,
    STATE_LABELS,
    EntitlementEvent,
)
from ltc.grades import GRADE_LABELS
from ltc.payouts.rules import PayeeApproved, PayeePaid

ENTITLEMENT_KEYS = {"entitlement_id", "decision_number", "grade", "grade_label", "starts_on",
                    "expires_on", "state", "state_label", "effective_on", "reason"}


def entitlement_event(kind: str, **changes) -> EntitlementEvent:
    values = {"kind": kind, "entitlement_id": 7, "decision_number": "JD20261128001",
              "grade": 5, "starts_on": date(2026, 12, 1), "expires_on": date(2028, 11, 30),
              "state": "ACTIVE", "effective_on": date(2027, 1, 12), "reason": "外出探亲",
              **changes}
    return EntitlementEvent(**values)


def test_every_published_kind_is_an_event_type() -> None:
    assert {f"entitlement.{kind}" for kind in PUBLISHED_KINDS} == {
        str(t) for t in EventType if str(t).startswith("entitlement.")}


@pytest.mark.parametrize("kind", sorted(PUBLISHED_KINDS - {"ended"}))
def test_a_start_suspension_or_resumption_carries_no_end(kind: str) -> None:
    data = entitlement_event(kind, end_reason="", last_day=None).as_data()
    assert set(data) == ENTITLEMENT_KEYS
    assert data["effective_on"] == "2027-01-12" and data["starts_on"] == "2026-12-01"


@pytest.mark.parametrize(("code", "label"), sorted(END_REASONS.items()))
def test_an_end_carries_its_reason_code_label_and_last_day(code: str, label: str) -> None:
    data = entitlement_event("ended", state="ENDED", end_reason=code,
                             last_day=date(2027, 3, 31)).as_data()
    assert set(data) == ENTITLEMENT_KEYS | {"reason_code", "reason_label", "last_day"}
    assert (data["reason_code"], data["reason_label"], data["last_day"]) == (
        code, label, "2027-03-31")


@pytest.mark.parametrize(("state", "label"), sorted(STATE_LABELS.items()))
def test_every_state_has_its_label(state: str, label: str) -> None:
    assert entitlement_event("started", state=str(state)).as_data()["state_label"] == label


@pytest.mark.parametrize(("grade", "label"), sorted(GRADE_LABELS.items()))
def test_every_grade_has_its_label(grade: int, label: str) -> None:
    assert entitlement_event("started", grade=grade).as_data()["grade_label"] == label
    concluded = GradeConcluded(assessment_id=3, application_number="SQ20261101001",
                               kind="initial", grade=grade, grade_label=label,
                               ruleset="national-2021@1", concluded_on=date(2026, 11, 20))
    assert concluded.as_data()["grade"] == grade


@pytest.mark.parametrize(("kind", "label"), sorted(KIND_LABELS.items()))
def test_a_conclusion_names_its_kind_of_assessment(kind: str, label: str) -> None:
    data = GradeConcluded(assessment_id=3, application_number="SQ20261101001", kind=kind,
                          grade=4, grade_label="重度失能Ⅱ级", ruleset="national-2021@1",
                          concluded_on=date(2026, 11, 20)).as_data()
    assert data == {"assessment_id": 3, "application_number": "SQ20261101001", "kind": kind,
                    "kind_label": label, "grade": 4, "grade_label": "重度失能Ⅱ级",
                    "ruleset": "national-2021@1", "concluded_on": "2026-11-20"}


@pytest.mark.parametrize(("form", "label"), sorted(CARE_FORM_LABELS.items()))
@pytest.mark.parametrize(("provider", "caregiver"), [
    (("P001", "新城护理院"), None), (None, ("XY20261201001", "李明")),
    (("P001", "新城护理院"), ("XY20261201001", "李明"))])
def test_a_confirmed_plan_names_form_items_and_who_cares(form, label, provider,
                                                          caregiver) -> None:
    data = PlanConfirmed(plan_id=9, plan_no=2, entitlement_id=7, care_form=str(form),
                         items=(("B01", "协助进食"), ("B02", "协助饮水")), visits_per_month=4,
                         starts_on=date(2027, 3, 1), provider=provider,
                         family_caregiver=caregiver, supersedes_plan_no=1).as_data()
    assert data["care_form_label"] == label
    assert data["items"] == [{"code": "B01", "name": "协助进食"},
                             {"code": "B02", "name": "协助饮水"}]
    assert data["provider"] == ({"code": provider[0], "name": provider[1]} if provider
                                else None)
    assert data["family_caregiver"] == ({"agreement_number": caregiver[0],
                                         "name": caregiver[1]} if caregiver else None)
    assert (data["starts_on"], data["supersedes_plan_no"]) == ("2027-03-01", 1)


@pytest.mark.parametrize("net", [30400, 0, -1200])
def test_a_payees_approval_and_payment_are_in_fen(net: int) -> None:
    approved = PayeeApproved(batch_number="JS370983202612", month=date(2026, 12, 1),
                             line_count=3, gross_fen=32000, withheld_fen=1600,
                             net_fen=net).as_data()
    assert approved == {"batch_number": "JS370983202612", "month": "2026-12", "line_count": 3,
                        "gross_fen": 32000, "withheld_fen": 1600, "net_fen": net}
    paid = PayeePaid(batch_number="JS370983202612", month=date(2026, 12, 1),
                     payment_reference="JS370983202612-000002", amount_fen=30400,
                     paid_on=date(2027, 1, 8)).as_data()
    assert paid == {"batch_number": "JS370983202612", "month": "2026-12",
                    "payment_reference": "JS370983202612-000002", "amount_fen": 30400,
                    "paid_on": "2027-01-08"}
    # Every value is plain JSON: integers stay integers on the wire.
    assert json.loads(json.dumps(approved)) == approved
