"""Pure rules for public notices (公示): masking names, notice periods, working days. No I/O.

The only file this module reads is the holiday override table, and only when
`load_holiday_overrides` is called with its path.

Conventions (decided here, used everywhere):
- Periods follow 民法典 第二百零一条 "按照年、月、日计算期间的，开始的当日不计入，自下一日开始
  计算", matching the usual wording "公示期为X日，自公示次日起算": the publication day is day 0,
  `starts_on` is the day after it, and `ends_on` is the last day (inclusive) on which an
  objection is accepted. A 7-day notice published on 1 March runs 2–8 March.
- Working-day periods count working days after the publication day; `starts_on` is still the
  calendar day after publication (it may be a rest day), `ends_on` is the n-th working day.
- Objections are accepted from the publication day itself through `ends_on`: refusing an
  objection from someone who read the notice on the day it went up would be absurd.
- A calendar-day period is not extended when its last day falls on a holiday (民法典 第二百零三条
  would extend a civil-law period to the day after the holiday); choose working days when the
  objection has to be lodged at an office.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import chinese_calendar
from chinese_calendar import constants as chinese_calendar_data

# ---------------------------------------------------------------------------------------------
# Names

# Compound surnames (复姓) kept whole when masking. Conservative on purpose: reading a single
# surname plus given name as a compound surname would reveal one given-name character, so
# pairs whose first character is a common single surname and whose second is common in given
# names (乐正, 单于, 段干, 梁丘, 谷梁, 濮阳 …) are left out; they are masked as single surnames.
COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "司空", "夏侯", "令狐", "轩辕", "端木", "独孤", "南宫", "西门",
    "百里", "呼延", "申屠", "万俟", "闻人", "澹台", "公冶", "太史", "钟离", "拓跋",
    "第五", "赫连", "淳于", "鲜于", "闾丘", "东郭", "公羊", "左丘", "仲孙", "叔孙",
    "颛孙", "巫马", "漆雕", "亓官", "司寇", "羊舌", "宰父", "公西", "公良", "壤驷",
    "夹谷", "东门",
)
_COMPOUND = frozenset(COMPOUND_SURNAMES)

# Separators in transliterated names of ethnic minorities (阿卜杜·热合曼). The ID card uses
# U+00B7; the others are what people type instead. A separator is never masked.
NAME_SEPARATORS = frozenset("·•‧・･")
MASK = "*"


def mask_name(name: str) -> str:
    """The name as shown on a public notice: surname kept, every other character `*`.

    张三 → 张*, 张三丰 → 张**, 欧阳娜娜 → 欧阳**, 司马 → 司*, 张 → *,
    阿卜杜·热合曼 → 阿**·***. The result has as many characters as the stripped name.
    """
    text = (name or "").strip()
    if not text or all(char in NAME_SEPARATORS for char in text):
        raise ValueError("姓名为空，无法公示")
    if len(text) == 1:
        return MASK
    if any(char in NAME_SEPARATORS for char in text):
        kept = 1  # a transliterated name has no surname to speak of: keep the first character
    elif len(text) > 2 and text[:2] in _COMPOUND:
        kept = 2
    else:
        kept = 1  # including 司马 as a whole name: something must stay hidden
    return text[:kept] + "".join(
        char if char in NAME_SEPARATORS else MASK for char in text[kept:])


def age_on(birth_date: date, on: date) -> int:
    """Full years of age on `on`. Someone born on 29 February turns a year older on 1 March
    in a common year (their birthday has not happened on 28 February)."""
    if on < birth_date:
        raise ValueError(f"date {on.isoformat()} is before the birth date {birth_date.isoformat()}")
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


# ---------------------------------------------------------------------------------------------
# Working days


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


def _as_date(value: date) -> date:
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
        self._overrides = {_as_date(day): bool(working) for day, working in
                           (overrides or {}).items()}
        self._override_years = frozenset(override_years)

    def is_working_day(self, d: date) -> bool:
        day = _as_date(d)
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
    day = _as_date(start)
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


# ---------------------------------------------------------------------------------------------
# Notice periods

NOTICE_DAYS_MIN = 1
NOTICE_DAYS_MAX = 60


class DayKind(StrEnum):
    CALENDAR = "calendar"  # 自然日
    WORKING = "working"  # 工作日

    @property
    def label(self) -> str:
        return "自然日" if self is DayKind.CALENDAR else "工作日"


@dataclass(frozen=True)
class NoticePeriod:
    starts_on: date  # the day after publication: day 1 of the period
    ends_on: date  # the last day on which objections are accepted (inclusive)

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise ValueError("a notice period cannot end before it starts")

    @property
    def published_on(self) -> date:
        """Day 0: the publication day (objections are accepted from it)."""
        return self.starts_on - timedelta(days=1)


def notice_period(
    published_on: date, days: int, day_kind: str, calendar: WorkingCalendar,
) -> NoticePeriod:
    """The period of a notice published on `published_on` that runs `days` calendar or
    working days, counted from the day after publication (公示期为X日，自公示次日起算)."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"days must be a whole number, got {days!r}")
    if not NOTICE_DAYS_MIN <= days <= NOTICE_DAYS_MAX:
        raise ValueError(f"公示期应为{NOTICE_DAYS_MIN}至{NOTICE_DAYS_MAX}日，不能为{days}日")
    try:
        kind = DayKind(day_kind)
    except ValueError:
        raise ValueError(f"day_kind must be 'calendar' or 'working', got {day_kind!r}") from None
    published = _as_date(published_on)
    starts_on = published + timedelta(days=1)
    if kind is DayKind.CALENDAR:
        ends_on = published + timedelta(days=days)
    else:
        ends_on = working_days_after(published, days, calendar)
    return NoticePeriod(starts_on=starts_on, ends_on=ends_on)


def objection_open(period: NoticePeriod, today: date) -> bool:
    """Objections are accepted from the publication day through `ends_on`, both inclusive."""
    return period.published_on <= _as_date(today) <= period.ends_on


def batch_due_to_close(ends_on: date, today: date) -> bool:
    """A published batch closes the day after its last objection day, never on it."""
    return _as_date(today) > ends_on


# ---------------------------------------------------------------------------------------------
# States


class NoticeBatchState(StrEnum):
    DRAFT = "DRAFT"  # being assembled; nothing public yet
    PUBLISHED = "PUBLISHED"  # posted; objections accepted until the period ends
    CLOSED = "CLOSED"  # the period is over; every entry has an outcome

    @property
    def label(self) -> str:
        return BATCH_STATE_LABELS[self]


BATCH_STATE_LABELS = {
    NoticeBatchState.DRAFT: "草稿",
    NoticeBatchState.PUBLISHED: "公示中",
    NoticeBatchState.CLOSED: "已结束",
}


class EntryOutcome(StrEnum):
    PENDING = "PENDING"  # the notice is still running
    NO_OBJECTION = "NO_OBJECTION"  # no objection by the end of the period: result stands
    OBJECTED = "OBJECTED"  # an objection was raised: the person is re-assessed
    WITHDRAWN = "WITHDRAWN"  # taken off the notice (application withdrawn, person died …)

    @property
    def label(self) -> str:
        return ENTRY_OUTCOME_LABELS[self]


ENTRY_OUTCOME_LABELS = {
    EntryOutcome.PENDING: "公示中",
    EntryOutcome.NO_OBJECTION: "无异议",
    EntryOutcome.OBJECTED: "有异议，重新评估",
    EntryOutcome.WITHDRAWN: "已撤回",
}
