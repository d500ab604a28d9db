"""Handling deadlines (医保办发〔2024〕22号): an application is answered (accepted, refused,
or told what is missing) within N working days of submission; the conclusion letter is
delivered within M working days of acceptance. N and M are policy (default 5 and 30). Pure:
the working-day calendar is passed in.

Missing materials (补正): telling the applicant what is missing is an answer, so the answer
deadline is met that day. The clock does not pause and resume: it starts again, with the
full N working days, the day the materials are recorded as received (RESUMED) — the agency
then decides on a complete file, and the days the applicant took are nobody's delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ltc.clock import WorkingCalendar, working_days_after

NEAR_WORKING_DAYS = 2  # "near": this many working days or fewer left


class DeadlineKind(StrEnum):
    ANSWER = "answer"  # from submission to acceptance, refusal or a request for materials
    RESUMED = "resumed"  # from the materials' receipt to acceptance or refusal
    LETTER = "letter"  # from acceptance to the decision letter

    @property
    def label(self) -> str:
        return {"answer": "受理答复", "resumed": "补正后受理答复",
                "letter": "结论送达"}[self.value]


class DeadlineState(StrEnum):
    RUNNING = "running"
    NEAR = "near"
    OVERDUE = "overdue"
    MET = "met"
    LATE = "late"

    @property
    def label(self) -> str:
        return {"running": "办理中", "near": "临近时限", "overdue": "已超时",
                "met": "按时办结", "late": "超时办结"}[self.value]


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    starts_on: date  # the day of submission (or acceptance); the count starts the day after
    due_on: date  # the last working day allowed
    limit: int  # working days
    elapsed: int  # working days used, up to today or to the day it was done
    remaining: int  # working days left (negative: overdue by that many)
    state: DeadlineState
    done_on: date | None = None

    @property
    def text(self) -> str:
        if self.state in (DeadlineState.MET, DeadlineState.LATE):
            return (f"{self.kind.label}：{self.done_on.isoformat() if self.done_on else ''}办结，"
                    f"用时{self.elapsed}个工作日（时限{self.limit}个工作日）")
        if self.remaining < 0:
            return (f"{self.kind.label}：已用{self.elapsed}个工作日，超过时限"
                    f"{-self.remaining}个工作日（应于{self.due_on.isoformat()}前办结）")
        return (f"{self.kind.label}：已用{self.elapsed}个工作日，剩余{self.remaining}个工作日"
                f"（{self.due_on.isoformat()}前）")


def working_days_between(start: date, end: date, calendar: WorkingCalendar) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            count += 1
    return count


def deadline(kind: DeadlineKind, starts_on: date, limit: int, today: date,
             calendar: WorkingCalendar, done_on: date | None = None) -> Deadline:
    """Where a deadline stands today, or how it was met once done."""
    due_on = working_days_after(starts_on, limit, calendar)
    until = done_on if done_on is not None else today
    elapsed = working_days_between(starts_on, until, calendar)
    remaining = limit - elapsed
    if done_on is not None:
        state = DeadlineState.MET if done_on <= due_on else DeadlineState.LATE
    elif today > due_on:
        state = DeadlineState.OVERDUE
    elif remaining <= NEAR_WORKING_DAYS:
        state = DeadlineState.NEAR
    else:
        state = DeadlineState.RUNNING
    return Deadline(kind, starts_on, due_on, limit, elapsed, remaining, state, done_on)
