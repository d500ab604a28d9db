"""Aware datetimes only: stored in UTC, shown and reasoned about in the region's civil time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def today(tz: ZoneInfo = CHINA) -> date:
    """The civil date in `tz`; day-based rules (notice periods, months) use this, not UTC."""
    return datetime.now(tz).date()
