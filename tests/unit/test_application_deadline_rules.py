"""Handling deadlines (22号) in working days, across the 2026 Spring Festival (15–23 February
off) and its adjusted working Saturdays (14 and 28 February)."""

from datetime import date

import pytest

from ltc.applications.deadlines import (
    DeadlineKind,
    DeadlineState,
    deadline,
    working_days_between,
)
from ltc.clock import working_calendar

CALENDAR = working_calendar()


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [(date(2026, 2, 12), date(2026, 2, 13), 1),
     (date(2026, 2, 13), date(2026, 2, 14), 1),   # Saturday 14 Feb is a working day
     (date(2026, 2, 14), date(2026, 2, 23), 0),   # the whole holiday
     (date(2026, 2, 13), date(2026, 2, 24), 2),   # 14th and 24th
     (date(2026, 2, 27), date(2026, 3, 2), 2),    # Saturday 28 Feb works, Sunday not
     (date(2026, 3, 2), date(2026, 3, 2), 0)],
)
def test_working_days_between(start: date, end: date, days: int) -> None:
    assert working_days_between(start, end, CALENDAR) == days


def test_an_answer_due_across_the_spring_festival() -> None:
    # Submitted Thu 12 Feb: working days 13, 14 (Sat), 24, 25, 26 → due Thu 26 Feb.
    running = deadline(DeadlineKind.ANSWER, date(2026, 2, 12), 5, date(2026, 2, 20), CALENDAR)
    assert (running.due_on, running.elapsed, running.remaining) == (date(2026, 2, 26), 2, 3)
    assert running.state == DeadlineState.RUNNING
    near = deadline(DeadlineKind.ANSWER, date(2026, 2, 12), 5, date(2026, 2, 24), CALENDAR)
    assert (near.remaining, near.state) == (2, DeadlineState.NEAR)
    assert near.text == "受理答复：已用3个工作日，剩余2个工作日（2026-02-26前）"
    over = deadline(DeadlineKind.ANSWER, date(2026, 2, 12), 5, date(2026, 2, 28), CALENDAR)
    assert (over.elapsed, over.remaining, over.state) == (7, -2, DeadlineState.OVERDUE)
    assert "超过时限2个工作日" in over.text


def test_a_letter_due_30_working_days_after_acceptance() -> None:
    # Accepted Mon 2 Feb 2026: 3–6, 9–13 and Sat 14 (10) before the holiday, 24–27 and Sat 28
    # (15), then 2–6, 9–13 and 16–20 March (30).
    letter = deadline(DeadlineKind.LETTER, date(2026, 2, 2), 30, date(2026, 2, 2), CALENDAR)
    assert letter.due_on == date(2026, 3, 20)
    done = deadline(DeadlineKind.LETTER, date(2026, 2, 2), 30, date(2026, 4, 1), CALENDAR,
                    done_on=date(2026, 3, 20))
    assert (done.state, done.elapsed) == (DeadlineState.MET, 30)
    late = deadline(DeadlineKind.LETTER, date(2026, 2, 2), 30, date(2026, 4, 1), CALENDAR,
                    done_on=date(2026, 3, 23))
    assert (late.state, late.remaining) == (DeadlineState.LATE, -1)
    assert late.text == "结论送达：2026-03-23办结，用时31个工作日（时限30个工作日）"
