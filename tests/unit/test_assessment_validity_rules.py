"""Validity of conclusions and the interval before a new assessment (SPEC §12): the date
arithmetic at month ends, leap days and the exact boundary, over every row."""

from datetime import date

import pytest

from ltc.applications.rules import new_assessment_from
from ltc.assessments.rules import Validity, conclusion_valid_until, validity_on
from ltc.entitlements.rules import expiry

# (concluded on, months valid, last valid day)
VALID_UNTIL = [
    (date(2026, 12, 4), 24, date(2028, 12, 3)),
    (date(2026, 1, 1), 24, date(2027, 12, 31)),  # a year's first day: ends on a year's last
    (date(2026, 1, 31), 1, date(2026, 2, 27)),  # Feb has no 31st: the period ends the 27th
    (date(2026, 3, 31), 24, date(2028, 3, 30)),
    (date(2027, 2, 28), 12, date(2028, 2, 27)),  # 2028 is a leap year: the 29th is not valid
    (date(2028, 2, 29), 24, date(2030, 2, 27)),  # a leap day: clamped to Feb 28, minus a day
    (date(2028, 2, 29), 48, date(2032, 2, 28)),  # four years on, the 29th exists again
    (date(2026, 8, 31), 6, date(2027, 2, 27)),
    (date(2026, 12, 31), 120, date(2036, 12, 30)),
]


@pytest.mark.parametrize(("concluded_on", "months", "last_day"), VALID_UNTIL)
def test_conclusion_valid_until(concluded_on: date, months: int, last_day: date) -> None:
    assert conclusion_valid_until(concluded_on, months) == last_day
    # The same count as an entitlement's expiry from its first day.
    assert expiry(concluded_on, months) == last_day


# (valid until, today, look-ahead days, state)
STATES = [
    (date(2028, 12, 3), date(2028, 12, 4), 60, Validity.EXPIRED),  # the day after
    (date(2028, 12, 3), date(2029, 6, 1), 60, Validity.EXPIRED),
    (date(2028, 12, 3), date(2028, 12, 3), 60, Validity.EXPIRING),  # its last day
    (date(2028, 12, 3), date(2028, 10, 4), 60, Validity.EXPIRING),  # exactly 60 days before
    (date(2028, 12, 3), date(2028, 10, 3), 60, Validity.VALID),  # 61 days before
    (date(2028, 12, 3), date(2028, 12, 3), 0, Validity.EXPIRING),
    (date(2028, 12, 3), date(2028, 12, 2), 0, Validity.VALID),
    (date(2028, 3, 1), date(2028, 2, 29), 1, Validity.EXPIRING),  # across a leap day
    (date(2028, 3, 1), date(2028, 2, 28), 1, Validity.VALID),
]


@pytest.mark.parametrize(("valid_until", "today", "within", "state"), STATES)
def test_validity_on(valid_until: date, today: date, within: int, state: Validity) -> None:
    assert validity_on(valid_until, today, within) == state


# (last conclusion, months, first day a new assessment may be asked for)
REQUEST_FROM = [
    (date(2026, 6, 4), 6, date(2026, 12, 4)),  # exactly six months: allowed that day
    (date(2026, 8, 31), 6, date(2027, 2, 28)),  # no Feb 31st: the month's last day
    (date(2027, 8, 31), 6, date(2028, 2, 29)),  # … in a leap year, the 29th
    (date(2028, 2, 29), 6, date(2028, 8, 29)),
    (date(2028, 2, 29), 12, date(2029, 2, 28)),
    (date(2026, 12, 31), 6, date(2027, 6, 30)),
    (date(2026, 7, 15), 6, date(2027, 1, 15)),  # across a year
    (date(2026, 7, 15), 0, date(2026, 7, 15)),  # no interval: the same day
]


@pytest.mark.parametrize(("last", "months", "first_day"), REQUEST_FROM)
def test_new_assessment_from(last: date, months: int, first_day: date) -> None:
    assert new_assessment_from(last, months) == first_day
