"""Schedule periods: pure rules about which runs are due. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum


class Every(StrEnum):
    day = "day"
    month = "month"


@dataclass(frozen=True)
class Schedule:
    """Run `job` once per period, once the period's local time reaches `at`.

    After downtime the scheduler runs up to `catch_up` missed periods, oldest first, so a
    monthly payout missed while the server was down still happens for its own month.
    """

    job: str
    every: Every
    at: time
    catch_up: int = 1
    on_day: int = 1  # a monthly job's day of the month (1–28), e.g. 2 for the monthly report


def period_key(every: Every, day: date) -> str:
    return day.isoformat() if every == Every.day else f"{day.year:04d}-{day.month:02d}"


def period_day(period_key: str) -> date:
    """The day a period stands for: the day itself, or a month's first day."""
    year, month, *day = (int(part) for part in period_key.split("-"))
    return date(year, month, day[0] if day else 1)


def _previous(every: Every, day: date) -> date:
    if every == Every.day:
        return date.fromordinal(day.toordinal() - 1)
    return date(day.year - (day.month == 1), 12 if day.month == 1 else day.month - 1, 1)


def due_periods(schedule: Schedule, now_local: datetime) -> list[str]:
    """Period keys that should have run by `now_local`, newest `catch_up` of them, oldest
    first. The caller skips those already recorded."""
    day = now_local.date()
    if schedule.every == Every.month:
        day = day.replace(day=1)
    start = datetime.combine(day.replace(day=schedule.on_day) if schedule.every == Every.month
                             else day, schedule.at, tzinfo=now_local.tzinfo)
    if now_local < start:
        day = _previous(schedule.every, day)
    keys = []
    for _ in range(schedule.catch_up):
        keys.append(period_key(schedule.every, day))
        day = _previous(schedule.every, day)
    return list(reversed(keys))
