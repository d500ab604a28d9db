"""The dashboard's pure rules: working-day cycle times (holidays and 调休 weekends), nearest-rank
percentiles, and the grade outlier rule at its edges."""

from datetime import date, datetime
from fractions import Fraction

import pytest

from ltc.clock import CHINA, working_calendar
from ltc.dashboard.rules import grade_outliers, percentile, stage_days, working_days_between

CALENDAR = working_calendar()


@pytest.mark.parametrize(("start", "end", "days"), [
    (date(2025, 9, 26), date(2025, 9, 26), 0),   # same day
    (date(2025, 9, 26), date(2025, 9, 27), 0),   # Friday → Saturday rest
    (date(2025, 9, 26), date(2025, 9, 28), 1),   # Sunday 28 Sep 2025 is a 调休 working day
    (date(2025, 9, 30), date(2025, 10, 8), 0),   # National Day and Mid-Autumn: 1–8 Oct off
    (date(2025, 9, 30), date(2025, 10, 9), 1),
    (date(2025, 10, 10), date(2025, 10, 11), 1),  # Saturday 11 Oct 2025 is worked
    (date(2025, 10, 10), date(2025, 10, 12), 1),  # Sunday 12 Oct rests
    (date(2025, 9, 26), date(2025, 10, 13), 7),  # 28, 29, 30 Sep, 9, 10, 11, 13 Oct
    (date(2025, 3, 3), date(2025, 3, 10), 5),    # an ordinary week
])
def test_working_days_between(start: date, end: date, days: int) -> None:
    assert working_days_between(start, end, CALENDAR) == days


def test_working_days_between_takes_datetimes_and_refuses_a_backwards_span() -> None:
    assert working_days_between(datetime(2025, 3, 3, 9, tzinfo=CHINA),
                                datetime(2025, 3, 4, 17, tzinfo=CHINA), CALENDAR) == 1
    with pytest.raises(ValueError):
        working_days_between(date(2025, 3, 4), date(2025, 3, 3), CALENDAR)


@pytest.mark.parametrize(("milestones", "expected"), [
    ({"submitted": date(2025, 9, 26), "accepted": date(2025, 9, 28),
      "assessed": date(2025, 10, 9), "concluded": date(2025, 10, 10),
      "noticed": date(2025, 10, 13), "paid": date(2025, 10, 15)},
     {"accepted": 1, "assessed": 3, "concluded": 1, "noticed": 2, "paid": 2, "total": 9}),
    # Not yet paid: no total, no last stage.
    ({"submitted": date(2025, 3, 3), "accepted": date(2025, 3, 4), "assessed": None},
     {"accepted": 1}),
    # A gap in the middle: the stages on either side of it are not counted.
    ({"submitted": date(2025, 3, 3), "accepted": date(2025, 3, 4), "assessed": None,
      "concluded": date(2025, 3, 10), "noticed": date(2025, 3, 11)},
     {"accepted": 1, "noticed": 1}),
    # A milestone before its predecessor gives no figure, never a negative one.
    ({"submitted": date(2025, 3, 5), "accepted": date(2025, 3, 4)}, {}),
    ({}, {}),
])
def test_stage_days(milestones: dict, expected: dict) -> None:
    assert stage_days(milestones, CALENDAR) == expected


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 50, None),
    ([7], 50, 7), ([7], 90, 7),
    ([1, 2], 50, 1), ([1, 2], 90, 2),
    ([4, 1, 3, 2], 50, 2),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, 10),
    ([5, 5, 5, 30], 90, 30),
    ([3, 1, 2], 100, 3), ([3, 1, 2], 1, 1),
])
def test_percentile_nearest_rank(values: list[int], q: int, expected: int | None) -> None:
    assert percentile(values, q) == expected


@pytest.mark.parametrize("q", [0, 101])
def test_percentile_refuses_q_out_of_range(q: int) -> None:
    with pytest.raises(ValueError):
        percentile([1], q)


def _peers(n: int = 100) -> dict[int, int]:
    return {2: n}  # the peers grade everyone 中度 (2): mean exactly 2


@pytest.mark.parametrize(("own", "marked"), [
    ({2: 10, 3: 10}, "high"),        # 20 assessments, mean 2.5: exactly the gap (inclusive)
    ({2: 11, 3: 9}, ""),             # mean 2.45: under the gap
    ({3: 19}, "few"),                # far off but 19 is under the minimum sample
    ({3: 20}, "high"),               # 20 at mean 3: a whole grade above
    ({1: 20}, "low"),
    ({1: 10, 2: 10}, "low"),         # mean 1.5: exactly the gap below
    ({}, "few"),
])
def test_grade_outliers_edges(own: dict[int, int], marked: str) -> None:
    spread = {s.unit: s for s in grade_outliers({"a": own, "peers": _peers()})}["a"]
    assert spread.marked == marked
    assert spread.count == sum(own.values())
    assert spread.peers_mean == 2


def test_grade_outliers_compares_with_the_others_only() -> None:
    spreads = grade_outliers({"x": {5: 30}, "y": {1: 30}, "z": {3: 30}})
    by_unit = {s.unit: s for s in spreads}
    assert by_unit["x"].peers_mean == 2 and by_unit["x"].marked == "high"
    assert by_unit["y"].peers_mean == 4 and by_unit["y"].marked == "low"
    assert by_unit["z"].peers_mean == 3 and by_unit["z"].marked == ""
    assert by_unit["x"].mean == Fraction(5)


def test_a_lone_unit_has_no_peers_and_is_not_marked() -> None:
    [spread] = grade_outliers({"only": {5: 50}})
    assert spread.peers_mean is None and spread.marked == ""
