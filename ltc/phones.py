"""Chinese phone numbers: a mobile or a landline with area code, normalised; masked for
display. Pure, no I/O (kernel: people, applications, agreements, notices and assessments
all take phones)."""

from __future__ import annotations

import re

MOBILE = re.compile(r"^1[3-9]\d{9}$")
# 010 and 020–029 are the only three-digit area codes; every other one has four digits.
LANDLINE = re.compile(r"^(0[12]\d|0[3-9]\d{2})([2-9]\d{6,7})$")
EXTENSION = re.compile(r"^(.*?)(?:转|ext\.?|#|,)(\d{1,6})$", re.IGNORECASE)


class InvalidPhone(ValueError):
    """`str(exc)` says in Chinese what to fix."""


def normalise_phone(value: str) -> str:
    """A mobile (13812345678, +86 allowed) or a landline with area code (0538-3221234,
    optional extension 转123). Returns the canonical form: mobile as 11 digits, landline as
    `area-number[-ext]`."""
    text = (value or "").strip()
    if not text:
        raise InvalidPhone("请填写联系电话（手机号码或带区号的固定电话）")
    extension = ""
    if match := EXTENSION.match(text):
        text, extension = match.group(1), match.group(2)
    compact = re.sub(r"[\s\-()（）]", "", text)
    if compact.startswith("+86"):
        compact = compact[3:]
    elif compact.startswith("0086"):
        compact = compact[4:]
    if not compact.isdigit():
        raise InvalidPhone("电话号码只能包含数字，例如 13812345678 或 0538-3221234")
    if MOBILE.match(compact) and not extension:
        return compact
    if match := LANDLINE.match(compact):
        area, number = match.groups()
        return f"{area}-{number}" + (f"-{extension}" if extension else "")
    if compact.startswith("1") and len(compact) == 11:
        raise InvalidPhone("手机号码第二位应为3至9，请核对")
    if compact.startswith("1"):
        raise InvalidPhone(f"手机号码应为以1开头的11位数字，您填写了{len(compact)}位，请核对")
    if len(compact) in (7, 8):
        raise InvalidPhone("固定电话请加区号，例如 0538-3221234")
    raise InvalidPhone("电话号码格式不正确，请填写11位手机号码或带区号的固定电话，"
                       "例如 13812345678 或 0538-3221234")


def phone_problem(value: str) -> str | None:
    try:
        normalise_phone(value)
    except InvalidPhone as exc:
        return str(exc)
    return None


def mask_phone(phone: str) -> str:
    """A normalised phone for lists: `138****5678`, `0538-****234` (extension dropped)."""
    if "-" not in phone:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:] if len(phone) > 7 else phone
    area, number = phone.split("-")[:2]
    return f"{area}-{'*' * (len(number) - 3)}{number[-3:]}"
