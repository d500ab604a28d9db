from datetime import date

import pytest

from ltc.staff.rules import (
    StaffKind,
    StaffStatus,
    Standing,
    expiry_state,
    refusal,
    staff_code_problem,
    staff_values,
    training_values,
)

TODAY = date(2026, 12, 1)
GOOD = {"resident_id": "370983197503120115", "name": "李评估", "kind": "expert",
        "certificate_no": "PG-1", "certificate_until": "2027-06-30",
        "staff_code": "N3709830000101", "status": "active"}


@pytest.mark.parametrize(("code", "ok"), [
    ("N3709830000101", True),
    ("HY370983000101", True),  # two category letters, six-digit sequence
    (" n3709830000101 ", True),  # typed in lower case with spaces
    ("", False),
    ("N37098300000101", False),  # 15 characters
    ("N370983000010", False),  # 13 characters
    ("3709830000101N", False),  # letters last
    ("NXY70983000101", False),  # three letters
    ("N9909830000101", False),  # 99 is no province
    ("N37098300001O1", False),  # a letter O among the digits
])
def test_staff_code_format(code: str, ok: bool) -> None:
    assert (staff_code_problem(code) is None) is ok


@pytest.mark.parametrize(("changes", "fields"), [
    ({}, set()),
    ({"resident_id": "370983197503120116"}, {"resident_id"}),  # checksum
    ({"resident_id": "37098319750312011"}, {"resident_id"}),  # 17 characters
    ({"name": ""}, {"name"}),
    ({"name": "李1"}, {"name"}),
    ({"kind": "doctor"}, {"kind"}),
    ({"status": "retired"}, {"status"}),
    ({"certificate_no": " "}, {"certificate_no"}),
    ({"certificate_no": "X" * 51}, {"certificate_no"}),
    ({"certificate_until": ""}, {"certificate_until"}),
    ({"certificate_until": "2027-02-30"}, {"certificate_until"}),
    ({"certificate_until": "30/06/2027"}, {"certificate_until"}),
    ({"staff_code": "N123"}, {"staff_code"}),
    ({"resident_id": "", "kind": "", "staff_code": "", "certificate_until": ""},
     {"resident_id", "kind", "staff_code", "certificate_until"}),  # all at once
])
def test_every_problem_is_named_at_once(changes, fields) -> None:
    values, problems = staff_values({**GOOD, **changes}, TODAY)
    assert set(problems) == fields
    assert (values is None) == bool(fields)


def test_values_are_normalised() -> None:
    values, _ = staff_values({**GOOD, "resident_id": "37098319750312011 5",
                              "staff_code": "n3709830000101"}, TODAY)
    assert (values.resident_id, values.staff_code) == ("370983197503120115", "N3709830000101")
    assert values.kind is StaffKind.expert and values.status is StaffStatus.active


@pytest.mark.parametrize(("changes", "fields"), [
    ({}, set()),
    ({"trained_on": "2026-12-02"}, {"trained_on"}),  # after today
    ({"hours": "0"}, {"hours"}),
    ({"hours": "1.5"}, {"hours"}),
    ({"hours": "1001"}, {"hours"}),
    ({"course": "", "issuer": ""}, {"course", "issuer"}),
])
def test_training_records(changes, fields) -> None:
    good = {"trained_on": "2026-11-20", "course": "失能评估标准", "hours": "8",
            "issuer": "泰安市医保局"}
    assert set(training_values({**good, **changes}, TODAY)[1]) == fields


UNTIL = date(2026, 12, 31)


def _standing(kind=StaffKind.nurse, status=StaffStatus.active) -> Standing:
    return Standing(staff_id=1, name="王丽", kind=kind, status=status, certificate_no="HS-1",
                    certificate_until=UNTIL)


CARING = (StaffKind.nurse, StaffKind.care_worker)


@pytest.mark.parametrize(("standing", "on", "code"), [
    (_standing(), UNTIL, None),  # the last valid day still counts
    (_standing(), date(2027, 1, 1), "staff_certificate_expired"),
    (None, UNTIL, "staff_not_registered"),
    (_standing(status=StaffStatus.suspended), UNTIL, "staff_not_active"),
    (_standing(status=StaffStatus.left), UNTIL, "staff_not_active"),
    (_standing(kind=StaffKind.expert), UNTIL, "staff_kind_mismatch"),
])
def test_who_may_work_on_a_day(standing, on, code) -> None:
    refused = refusal(standing, CARING, on, "王丽")
    assert (refused.code if refused else None) == code
    if refused:
        assert "王丽" in refused.message


def test_an_expert_counts_through_the_last_day_and_only_while_active() -> None:
    expert = _standing(kind=StaffKind.expert)
    assert expert.is_expert_on(UNTIL) and not expert.is_expert_on(date(2027, 1, 1))
    assert not _standing(kind=StaffKind.assessor).is_expert_on(UNTIL)
    assert not _standing(kind=StaffKind.expert, status=StaffStatus.left).is_expert_on(UNTIL)


@pytest.mark.parametrize(("today", "state"), [
    (date(2026, 11, 30), ""),  # 31 days
    (date(2026, 12, 1), "即将到期"),  # 30 days
    (UNTIL, "即将到期"),
    (date(2027, 1, 1), "已过期"),
])
def test_expiry_state(today, state) -> None:
    assert expiry_state(UNTIL, today) == state
