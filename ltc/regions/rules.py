"""Pure rules of the region tree's admin: a place's code under its parent (a town is its
pooling region's code + 3 digits, a village its town's code + 3 digits), the bureau's contact
details a pooling region prints on its notices. No I/O."""

from __future__ import annotations

import re
import unicodedata

from ltc.phones import InvalidPhone, normalise_phone

IMPORT_COLUMNS = ("code", "name", "parent_code")
COLUMN_LABELS = {"code": "编码", "name": "名称", "parent_code": "上级编码"}
_ILLEGAL = frozenset({"Cc", "Cs", "Zl", "Zp"})
CHILD_LEVEL = {"pooling": "town", "town": "village"}
LEVEL_LABELS = {"pooling": "统筹地区", "town": "镇街", "village": "村居"}


def place_problems(code: str, name: str, parent_code: str,
                   parent_level: str | None) -> dict[str, str]:
    """Every problem of one place (town or village) under its parent, by field."""
    problems = {}
    if not name or len(name) > 100 or any(unicodedata.category(c) in _ILLEGAL for c in name):
        problems["name"] = "请填写名称（不超过100个字）"
    if parent_level not in CHILD_LEVEL:
        problems["parent_code"] = ("上级编码应为本统筹地区的编码（导入镇街）或其镇街编码"
                                   "（导入村居）")
    elif not re.fullmatch(re.escape(parent_code) + r"\d{3}", code):
        what = ("村居编码须以所属镇街编码开头" if parent_level == "town"
                else "镇街编码须以统筹地区编码开头")
        problems["code"] = f"{what}，再加3位数字，如 {parent_code}001"
    return problems


def bureau_problems(address: str, phone: str) -> tuple[dict[str, str], str]:
    """({}, the phone normalised) or (every problem, "") for the bureau's contact details."""
    problems = {}
    if not address or len(address) > 200 or any(
            unicodedata.category(c) in _ILLEGAL for c in address):
        problems["bureau_address"] = "请填写医保经办机构的办公地址（不超过200个字，不换行）"
    normalised = ""
    try:
        normalised = normalise_phone(phone)
    except InvalidPhone as exc:
        problems["bureau_phone"] = str(exc)
    return problems, normalised


def missing_bureau_contact(address: str, phone: str) -> list[str]:
    """What a pooling region must fill in before its notices are published."""
    return [label for label, value in (("办公地址", address), ("咨询电话", phone)) if not value]


def code_pattern_problem(pattern: str) -> str | None:
    """Why a region's national-code pattern cannot be used, or None."""
    if len(pattern) > 200:
        return "格式规则不能超过200个字符"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"格式规则不是有效的正则表达式（{exc}）"
    return None


def default_code_pattern(region_code: str) -> str:
    """The national code's format when the pooling region sets none: one capital letter (the
    kind of institution), the region's six-digit division code, five digits — the shape of
    the NHSA institution codes (医保信息业务编码, e.g. H37098300001)."""
    return rf"[A-Z]{re.escape(region_code[:6])}\d{{5}}"
