"""Pure rules for public notices (公示): masking names, notice periods, working days. No I/O.


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

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ltc.clock import WorkingCalendar, as_date, working_days_after

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
    published = as_date(published_on)
    starts_on = published + timedelta(days=1)
    if kind is DayKind.CALENDAR:
        ends_on = published + timedelta(days=days)
    else:
        ends_on = working_days_after(published, days, calendar)
    return NoticePeriod(starts_on=starts_on, ends_on=ends_on)


def objection_open(period: NoticePeriod, today: date) -> bool:
    """Objections are accepted from the publication day through `ends_on`, both inclusive."""
    return period.published_on <= as_date(today) <= period.ends_on


def batch_due_to_close(ends_on: date, today: date) -> bool:
    """A published batch closes the day after its last objection day, never on it."""
    return as_date(today) > ends_on


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
