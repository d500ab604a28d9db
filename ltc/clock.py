"""Time for every context: aware datetimes (stored in UTC, reasoned about in the region's civil
time), calendar months, and working days (statutory holidays and adjusted working weekends)."""

from __future__ import annotations

import calendar
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants as chinese_calendar_data
from piccolo.columns.defaults.timestamptz import TimestamptzNow

CHINA = ZoneInfo("Asia/Shanghai")

# How far the clock of the current context is moved from the real time (None: not moved).
# Only `travel_to` sets it; production code never does, so now() is the real time there.
_offset: ContextVar[timedelta | None] = ContextVar("ltc_clock_offset", default=None)


def now() -> datetime:
    offset = _offset.get()
    real = datetime.now(UTC)
    return real if offset is None else real + offset


def today(tz: ZoneInfo = CHINA) -> date:
    """The civil date in `tz`; day-based rules (notice periods, months) use this, not UTC."""
    return now().astimezone(tz).date()


@contextmanager
def travel_to(moment: datetime) -> Iterator[datetime]:
    """Run the block "as of" `moment` (aware): inside it, in this context and the tasks and
    threads it starts, now() begins at `moment` and runs on at the real pace, and today()
    is its civil date; rows defaulting to ClockNow() take the same time. Used to build
    history through the real services (the demo). Nesting moves the clock again; leaving
    the block restores the clock of the enclosing context."""
    if moment.tzinfo is None:
        raise ValueError("travel_to needs an aware datetime")
    token = _offset.set(moment - datetime.now(UTC))
    try:
        yield moment
    finally:
        _offset.reset(token)


class ClockNow(TimestamptzNow):
    """A Timestamptz column default that reads now() (so it honours travel_to) in Python;
    the database's own default stays CURRENT_TIMESTAMP, as with TimestamptzNow."""

    def python(self) -> datetime:
        return now()


# --- months ---------------------------------------------------------------------------------

def month_first(day: date) -> date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def month_last(day: date) -> date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_bounds(day: date) -> tuple[date, date]:
    """The first and the last day of `day`'s month."""
    return month_first(day), month_last(day)


def days_of(month: date) -> list[date]:
    """Every day of `month`'s month, in order."""
    first = month_first(month)
    return [first + timedelta(days=n) for n in range(month_last(first).day)]


def previous_month(day: date) -> date:
    """The first day of the month before `day`'s."""
    return (month_first(day) - timedelta(days=1)).replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return month_last(day) + timedelta(days=1)


def month_label(month: date) -> str:
    """`2026年11月`."""
    return f"{month.year}年{month.month}月"


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later (earlier when negative), clamped to the
    month's end: 2025-08-31 plus 6 months is 2026-02-28. A period of N months counted from
    `day` has run its course on that date (as the Civil Code, art. 203, counts periods), so
    a disability since 2025-08-31 has lasted 6 months on 2026-02-28."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(start: date, months: int) -> date:
    """The last day of a period of `months` months that starts on `start` (the day before
    add_months): 24 months from 2026-12-01 end on 2028-11-30."""
    return add_months(start, months) - timedelta(days=1)


# --- working days: statutory holidays and adjusted working weekends (调休) -------------------


class UnknownCalendarYear(LookupError):
    """Neither chinesecalendar nor the override table knows this year's holidays and 调休."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"{year}年的法定节假日和调休安排未知：请在节假日配置（fixtures/holidays.json）中"
            f"补充{year}年的放假安排后再计算工作日")


def library_years() -> range:
    """The years the installed chinesecalendar ships holiday data for."""
    known = chinese_calendar_data.holidays
    return range(min(known).year, max(known).year + 1)


def as_date(value: date) -> date:
    """The date of a datetime; a date unchanged."""
    return value.date() if isinstance(value, datetime) else value


class WorkingCalendar:
    """Working days in mainland China: statutory holidays and adjusted working weekends.

    Precedence for a date:
    1. an entry in `overrides` (True = working day, False = holiday), for any year;
    2. a year in `override_years` is fully specified by the overrides plus the weekend rule
       (Monday–Friday working, Saturday and Sunday rest), even if chinesecalendar knows it;
    3. chinesecalendar, for the years it ships;
    4. otherwise `UnknownCalendarYear` — guessing "weekdays are working days" would silently
       put deadlines inside the Spring Festival.
    """

    def __init__(
        self,
        overrides: dict[date, bool] | None = None,
        override_years: frozenset[int] = frozenset(),
    ) -> None:
        self._overrides = {as_date(day): bool(working) for day, working in
                           (overrides or {}).items()}
        self._override_years = frozenset(override_years)

    def is_working_day(self, d: date) -> bool:
        day = as_date(d)
        if day in self._overrides:
            return self._overrides[day]
        if day.year in self._override_years:
            return day.weekday() < 5
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            raise UnknownCalendarYear(day.year) from None

    def covers_year(self, year: int) -> bool:
        """True when every date of `year` can be answered without UnknownCalendarYear."""
        return year in self._override_years or year in library_years()


def working_days_after(start: date, n: int, calendar: WorkingCalendar) -> date:
    """The n-th working day after `start` (`start` itself never counts), e.g. the last day
    of "re-assessment within 10 working days". n must be at least 1."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    day = as_date(start)
    found = 0
    # No real calendar has a month without working days; the bound stops a broken override
    # table (every day a holiday) from looping for ever.
    limit = day + timedelta(days=31 * n + 366)
    while found < n:
        day += timedelta(days=1)
        if day > limit:
            raise ValueError(f"no {n} working days found after {start.isoformat()}")
        if calendar.is_working_day(day):
            found += 1
    return day


HOLIDAY = "holiday"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
WORKING = "working"


def load_holiday_overrides(
    path: str | os.PathLike[str],
) -> tuple[dict[date, bool], frozenset[int]]:
    """Read the override table (fixtures/holidays.json):

    {"source": "...", "years": [2027], "days": {"2027-01-01": "holiday", "2027-02-14": "working"}}

    Returns (date → working?, years fully specified by the table). Raises ValueError naming
    the problem when the file is malformed.
    """
    file = Path(path)

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"{file}: {key!r} appears twice")
            result[key] = value
        return result

    data = json.loads(file.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)
    if not isinstance(data, dict):
        raise ValueError(f"{file}: expected a JSON object")
    years = data.get("years", [])
    days = data.get("days", {})
    if not isinstance(years, list) or not all(
            isinstance(year, int) and not isinstance(year, bool) for year in years):
        raise ValueError(f"{file}: 'years' must be a list of years, e.g. [2027]")
    if not isinstance(days, dict):
        raise ValueError(f"{file}: 'days' must map ISO dates to 'holiday' or 'working'")
    overrides: dict[date, bool] = {}
    for key, kind in days.items():
        try:
            if not _ISO_DATE.fullmatch(key):
                raise ValueError
            day = date.fromisoformat(key)
        except ValueError:
            raise ValueError(f"{file}: {key!r} is not a date like 2027-01-01") from None
        if kind not in (HOLIDAY, WORKING):
            raise ValueError(f"{file}: {key}: expected 'holiday' or 'working', got {kind!r}")
        overrides[day] = kind == WORKING
    covered = {day.year for day in overrides}
    for year in years:
        if year not in covered:
            raise ValueError(
                f"{file}: year {year} is listed in 'years' but has no entries in 'days'")
    return overrides, frozenset(years)


HOLIDAYS = Path(__file__).resolve().parent.parent / "fixtures" / "holidays.json"


@lru_cache(maxsize=1)
def working_calendar() -> WorkingCalendar:
    """The calendar every working-day period uses: chinesecalendar plus the override table
    (fixtures/holidays.json) for years the library does not know yet."""
    overrides, years = load_holiday_overrides(HOLIDAYS)
    return WorkingCalendar(overrides, years)
