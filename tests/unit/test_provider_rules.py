"""The provider rules: bed-days over every boundary, occupancy, the rates and their rounding
(a zero denominator is "—", never a crash), the evaluation figures, sorting and survey
validation."""

from __future__ import annotations

from datetime import date

import pytest

from ltc import clock
from ltc.providers import rules
from ltc.providers.rules import ProviderMonth

D = date
NOV = (D(2026, 11, 1), D(2026, 11, 30))
FEB_LEAP = (D(2028, 2, 1), D(2028, 2, 29))
FEB = (D(2027, 2, 1), D(2027, 2, 28))


@pytest.mark.parametrize(("admitted", "discharged", "month", "expected"), [
    # whole month, open stay admitted before it
    (D(2026, 10, 15), None, NOV, 30),
    # admitted on the first day: the admission day counts
    (D(2026, 11, 1), None, NOV, 30),
    # admitted on the last day
    (D(2026, 11, 30), None, NOV, 1),
    # discharged on the first day: the discharge day does not count
    (D(2026, 10, 20), D(2026, 11, 1), NOV, 0),
    # discharged on the second day: only the first
    (D(2026, 10, 20), D(2026, 11, 2), NOV, 1),
    # discharged on the last day: 1st..29th
    (D(2026, 10, 20), D(2026, 11, 30), NOV, 29),
    # discharged on the first of next month: the whole month
    (D(2026, 10, 20), D(2026, 12, 1), NOV, 30),
    # admitted and discharged within the month: 3rd and 4th
    (D(2026, 11, 3), D(2026, 11, 5), NOV, 2),
    # admitted and discharged the same day: no bed-day
    (D(2026, 11, 3), D(2026, 11, 3), NOV, 0),
    # spanning month ends on both sides
    (D(2026, 9, 10), D(2027, 1, 10), NOV, 30),
    # entirely before or after the month
    (D(2026, 9, 10), D(2026, 10, 31), NOV, 0),
    (D(2026, 12, 1), None, NOV, 0),
    (D(2026, 12, 5), D(2026, 12, 9), NOV, 0),
    # February of a leap year: 29 days; an ordinary February: 28
    (D(2028, 1, 31), None, FEB_LEAP, 29),
    (D(2028, 2, 28), D(2028, 3, 1), FEB_LEAP, 2),
    (D(2028, 2, 29), None, FEB_LEAP, 1),
    (D(2027, 1, 31), None, FEB, 28),
    (D(2027, 2, 28), D(2027, 3, 1), FEB, 1),
])
def test_bed_days(admitted, discharged, month, expected) -> None:
    assert rules.bed_days(admitted, discharged, *month) == expected
    dates = rules.bed_dates(admitted, discharged, *month)
    assert len(dates) == expected
    if dates:
        assert dates[0] == max(admitted, month[0])


def test_bed_days_of_consecutive_months_add_up_to_the_stay() -> None:
    admitted, discharged = D(2026, 10, 20), D(2027, 3, 2)
    months = [(D(2026, 10, 1), D(2026, 10, 31)), NOV, (D(2026, 12, 1), D(2026, 12, 31)),
              (D(2027, 1, 1), D(2027, 1, 31)), FEB, (D(2027, 3, 1), D(2027, 3, 31))]
    assert sum(rules.bed_days(admitted, discharged, *m) for m in months) == (
        discharged - admitted).days


@pytest.mark.parametrize(("admitted", "discharged", "day", "expected"), [
    (D(2026, 11, 3), None, D(2026, 11, 3), True),
    (D(2026, 11, 3), None, D(2026, 11, 2), False),
    (D(2026, 11, 3), D(2026, 11, 5), D(2026, 11, 4), True),
    (D(2026, 11, 3), D(2026, 11, 5), D(2026, 11, 5), False),
])
def test_occupies(admitted, discharged, day, expected) -> None:
    assert rules.occupies(admitted, discharged, day) is expected


@pytest.mark.parametrize(("other", "expected"), [
    ((D(2026, 11, 1), None), True),  # still open
    ((D(2026, 11, 1), D(2026, 11, 10)), False),  # discharged the day of the new admission
    ((D(2026, 11, 1), D(2026, 11, 11)), True),  # discharged after it
    ((D(2026, 11, 1), D(2026, 11, 9)), False),
    ((D(2026, 11, 20), D(2026, 11, 25)), True),  # a later stay
])
def test_overlaps(other, expected) -> None:
    assert rules.overlaps(D(2026, 11, 10), *other) is expected


@pytest.mark.parametrize(("stays", "from_day", "expected"), [
    ([], D(2026, 11, 10), 0),
    ([(D(2026, 11, 1), None), (D(2026, 11, 2), D(2026, 11, 10))], D(2026, 11, 10), 1),
    ([(D(2026, 11, 1), None), (D(2026, 11, 2), D(2026, 11, 11))], D(2026, 11, 10), 2),
    # a backdated admission: a later admission raises the peak after the day asked about
    ([(D(2026, 11, 1), D(2026, 11, 12)), (D(2026, 11, 15), None), (D(2026, 11, 16), None)],
     D(2026, 11, 10), 2),
])
def test_peak_occupancy(stays, from_day, expected) -> None:
    assert rules.peak_occupancy(stays, from_day) == expected


def _stay(**overrides):
    arguments = {"admitted_on": D(2026, 11, 10), "today": D(2026, 11, 20), "has_beds": True,
                 "beds": 2, "occupied": 1, "overlapping": None, "entitlement_active": True}
    return rules.stay_problems(**{**arguments, **overrides})


def test_stay_problems_all_at_once() -> None:
    assert _stay() == {}
    problems = _stay(entitlement_active=False, has_beds=False, beds=0,
                     overlapping={"institution.name": "仪阳护理院",
                                  "admitted_on": D(2026, 10, 1)})
    assert set(problems) == {"admitted_on", "institution", "entitlement"}
    assert "没有有效的机构护理" in problems["institution"]
    assert "2026-10-01" in problems["entitlement"] and "仪阳护理院" in problems["entitlement"]
    assert "住满 2 张" in _stay(occupied=2)["institution"]
    assert "晚于今天" in _stay(admitted_on=D(2026, 11, 21))["admitted_on"]


@pytest.mark.parametrize(("discharged", "field_problem"), [
    (D(2026, 11, 9), "必须晚于入住日期"),
    (D(2026, 11, 10), "必须晚于入住日期"),
    (D(2026, 11, 11), None),
    (D(2026, 11, 20), None),
    (D(2026, 11, 21), "不能晚于今天"),
])
def test_discharge_problems(discharged, field_problem) -> None:
    problems = rules.discharge_problems(admitted_on=D(2026, 11, 10), discharged_on=discharged,
                                        today=D(2026, 11, 20))
    if field_problem is None:
        assert problems == {}
    else:
        assert field_problem in problems["discharged_on"]


@pytest.mark.parametrize(("score", "valid"), [(0, False), (1, True), (3, True), (5, True),
                                              (6, False), (-1, False)])
def test_survey_score_range(score, valid) -> None:
    problems = rules.survey_problems(score=score, surveyed_on=D(2026, 11, 3),
                                     today=D(2026, 11, 3), comment="")
    assert ("score" not in problems) is valid


def test_survey_problems_all_at_once() -> None:
    problems = rules.survey_problems(score=9, surveyed_on=None, today=D(2026, 11, 3),
                                     comment="好" * 501)
    assert set(problems) == {"score", "surveyed_on", "comment"}
    assert "晚于今天" in rules.survey_problems(
        score=4, surveyed_on=D(2026, 11, 4), today=D(2026, 11, 3), comment="")["surveyed_on"]


@pytest.mark.parametrize(("numerator", "denominator", "tenths", "text"), [
    (0, 0, None, "—"),
    (3, 0, None, "—"),
    (0, 8, 0, "0.0%"),
    (7, 8, 875, "87.5%"),
    (8, 8, 1000, "100.0%"),
    (1, 3, 333, "33.3%"),
    (2, 3, 667, "66.7%"),  # 666.67 rounds up
    (1, 8, 125, "12.5%"),
    (1, 16, 63, "6.3%"),  # 62.5 rounds half up
    (1, 2000, 1, "0.1%"),  # 0.5 rounds half up
    (1, 2001, 0, "0.0%"),
])
def test_rate_tenths(numerator, denominator, tenths, text) -> None:
    assert rules.rate_tenths(numerator, denominator) == tenths
    assert rules.format_percent(tenths) == text


@pytest.mark.parametrize(("total", "count", "tenths", "text"), [
    (0, 0, None, "—"),
    (13, 3, 43, "4.3"),  # 5, 4, 4
    (9, 2, 45, "4.5"),
    (5, 1, 50, "5.0"),
    (29, 12, 24, "2.4"),  # 2.4166…
    (5, 4, 13, "1.3"),  # 1.25 rounds half up
])
def test_mean_tenths(total, count, tenths, text) -> None:
    assert rules.mean_tenths(total, count) == tenths
    assert rules.format_score(tenths) == text


@pytest.mark.parametrize(("per_month", "active", "days", "due"), [
    (4, 30, 30, 4),
    (4, 15, 30, 2),
    (4, 7, 30, 1),  # 0.93
    (4, 3, 30, 0),  # 0.4
    (2, 15, 30, 1),  # exactly 1
    (3, 5, 30, 1),  # 0.5 rounds half up
    (3, 15, 30, 2),  # 1.5
    (2, 0, 31, 0),
    (4, 29, 29, 4),
])
def test_due_visits(per_month, active, days, due) -> None:
    assert rules.due_visits(per_month, active, days) == due


def test_days_in_period() -> None:
    # a plan version replaced the day it starts is in force for no day at all
    assert rules.days_in_period(D(2026, 11, 1), D(2026, 11, 1), *NOV) == []
    assert rules.days_in_period(D(2026, 10, 1), D(2026, 11, 3), *NOV) == [D(2026, 11, 1),
                                                                         D(2026, 11, 2)]
    assert len(rules.days_in_period(D(2026, 11, 16), None, *NOV)) == 15


def test_provider_month_rates() -> None:
    empty = ProviderMonth(provider=1, name="无数据").as_row()
    assert (empty["completion_text"], empty["flag_rate_text"], empty["satisfaction_text"],
            empty["mean_score_text"]) == ("—", "—", "—", "—")
    row = ProviderMonth(provider=2, name="新城卫生院", due=8, accepted=9, credited=7, logged=10,
                        flagged=3, surveys=3, satisfied=2, score_total=13).as_row()
    assert (row["completion"], row["flag_rate"], row["satisfaction"], row["mean_score"]) == (
        875, 300, 667, 43)
    assert row["completion_text"] == "87.5%" and row["mean_score_text"] == "4.3"


def test_credited_and_survey_totals() -> None:
    assert rules.credited_visits(5, 4) == 4
    assert rules.credited_visits(2, 4) == 2
    assert rules.credited_visits(3, 0) == 0
    assert rules.survey_totals([(5, 1), (4, 2), (2, 1)]) == (4, 3, 15)
    assert rules.survey_totals([]) == (0, 0, 0)


def test_sort_rows_puts_missing_values_last_either_way() -> None:
    rows = [ProviderMonth(provider=1, name="乙", due=4, credited=2).as_row(),
            ProviderMonth(provider=2, name="甲", due=4, credited=4).as_row(),
            ProviderMonth(provider=3, name="丙").as_row()]
    assert [r["provider"] for r in rules.sort_rows(rows, "completion", True)] == [2, 1, 3]
    assert [r["provider"] for r in rules.sort_rows(rows, "completion", False)] == [1, 2, 3]
    assert [r["provider"] for r in rules.sort_rows(rows, "due", True)] == [1, 2, 3]
    assert [r["name"] for r in rules.sort_rows(rows, "name", False)] == sorted(["甲", "乙", "丙"])
    # an unknown column sorts by the default
    assert rules.sort_rows(rows, "drop table", True) == rules.sort_rows(rows, "completion", True)


@pytest.mark.parametrize(("text", "month"), [
    ("2026-11", D(2026, 11, 1)), ("2026-2", D(2026, 2, 1)), (" 2028-02 ", D(2028, 2, 1)),
    ("2026-13", None), ("2026-00", None), ("11-2026", None), ("", None), ("2026-11-01", None),
])
def test_parse_month(text, month) -> None:
    assert rules.parse_month(text) == month


def test_month_helpers() -> None:
    assert clock.month_bounds(D(2028, 2, 10)) == FEB_LEAP
    assert clock.previous_month(D(2026, 1, 15)) == D(2025, 12, 1)
    assert clock.month_label(D(2026, 11, 1)) == "2026年11月"
