"""How dates and times read on a page and in a letter: civil time, Chinese dates. (Money:
ltc.money; masked IDs: ltc.people.rules.)"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ltc.clock import CHINA


def iso_date(value: date | datetime | None, tz: ZoneInfo = CHINA) -> str:
    """`2026-10-01`, for tables."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return value.isoformat()


def letter_date(value: date | datetime | None, tz: ZoneInfo = CHINA) -> str:
    """`2026年10月1日`, for letters and notices."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return f"{value.year}年{value.month}月{value.day}日"


def local_time(value: datetime | None, tz: ZoneInfo = CHINA) -> str:
    """`2026-10-01 08:30` in civil time; stored times are UTC."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")




def datetime_local(value: datetime | None, tz: ZoneInfo = CHINA) -> str:
    """The value of an `<input type="datetime-local">`: civil time, no zone."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
