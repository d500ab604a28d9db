"""How values read on a page: money from fen, dates in Chinese, masked resident IDs."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ltc.clock import CHINA


def yuan(fen: int | None) -> str:
    """Integer fen → `¥1,234.56`; exact, no floats."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


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


def role_label(value: str) -> str:
    from ltc.accounts.rules import Role

    return Role(value).label


def application_state(value: str) -> str:
    from ltc.applications.rules import ApplicationState

    return ApplicationState(value).label


def assessment_state(value: str) -> str:
    from ltc.assessments.rules import AssessmentState

    return AssessmentState(value).label


def grade_label(grade: int | None) -> str:
    """重度失能Ⅱ级, never a bare number (SPEC §11); empty while not graded."""
    from ltc.assessments.grading import GRADE_LABELS

    return "" if grade is None else GRADE_LABELS.get(grade, "")


def mask_resident_id(resident_id: str) -> str:
    """`110105199001011234` → `110105********1234`: region and last four only, for lists."""
    if len(resident_id) != 18:
        return "*" * len(resident_id)
    return resident_id[:6] + "*" * 8 + resident_id[-4:]


def datetime_local(value: datetime | None, tz: ZoneInfo = CHINA) -> str:
    """The value of an `<input type="datetime-local">`: civil time, no zone."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def entitlement_state(value: str) -> str:
    from ltc.entitlements.rules import EntitlementState

    return EntitlementState(value).label


def entry_outcome(value: str) -> str:
    from ltc.notices.rules import EntryOutcome

    return EntryOutcome(value).label


def batch_state(value: str) -> str:
    from ltc.notices.rules import NoticeBatchState

    return NoticeBatchState(value).label


def end_reason(value: str) -> str:
    from ltc.entitlements.rules import END_REASONS

    return END_REASONS.get(value, value)
