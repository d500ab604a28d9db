from datetime import date, datetime, time

import pytest

from ltc.clock import CHINA
from ltc.jobs.rules import Every, Schedule, due_periods, period_day, period_key

DAILY = Schedule(job="daily", every=Every.day, at=time(2, 0))
MONTHLY = Schedule(job="monthly", every=Every.month, at=time(1, 0), catch_up=3)
ON_THE_2ND = Schedule(job="report", every=Every.month, at=time(6, 0), on_day=2)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("schedule", "now", "due"),
    [
        (DAILY, at(2026, 11, 22, 1, 59), ["2026-11-21"]),
        (DAILY, at(2026, 11, 22, 2, 0), ["2026-11-22"]),
        (DAILY, at(2026, 1, 1, 0, 30), ["2025-12-31"]),
        (Schedule("d3", Every.day, time(2, 0), catch_up=3), at(2026, 3, 1, 5, 0),
         ["2026-02-27", "2026-02-28", "2026-03-01"]),
        (MONTHLY, at(2026, 11, 1, 0, 59), ["2026-08", "2026-09", "2026-10"]),
        (MONTHLY, at(2026, 11, 1, 1, 0), ["2026-09", "2026-10", "2026-11"]),
        (MONTHLY, at(2026, 2, 15, 12, 0), ["2025-12", "2026-01", "2026-02"]),
        # A job on the 2nd: on the 1st and early on the 2nd the month's run is not due yet.
        (ON_THE_2ND, at(2026, 11, 1, 23, 0), ["2026-10"]),
        (ON_THE_2ND, at(2026, 11, 2, 5, 59), ["2026-10"]),
        (ON_THE_2ND, at(2026, 11, 2, 6, 0), ["2026-11"]),
        (ON_THE_2ND, at(2026, 11, 30, 6, 0), ["2026-11"]),
    ],
)
def test_due_periods(schedule: Schedule, now: datetime, due: list[str]) -> None:
    assert due_periods(schedule, now) == due


@pytest.mark.parametrize(("every", "day", "key"), [
    (Every.day, date(2026, 12, 4), "2026-12-04"),
    (Every.day, date(2027, 1, 1), "2027-01-01"),
    (Every.day, date(2028, 2, 29), "2028-02-29"),
    (Every.month, date(2026, 12, 1), "2026-12"),
    (Every.month, date(2027, 1, 1), "2027-01"),
])
def test_a_period_key_names_the_day_its_run_acts_on(every, day, key) -> None:
    """Daily jobs act on their period's day (a run caught up or run by `ltc jobs run
    --as-of` acts as of that day, not as of the day it happens to run)."""
    assert period_key(every, day) == key
    assert period_day(key) == day
