"""Pure rules of the organisation register (定点机构): categories, statuses and their changes,
the national code's format, a register entry's validity (form, API, command and CSV row
alike), masking the bank account. No I/O."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from ltc.people.rules import normalise_resident_id, resident_id_problem
from ltc.phones import InvalidPhone, normalise_phone


class Category(StrEnum):
    """The register's kinds. `kind` (what other contexts read) is assessment or provider."""

    assessment = "assessment"
    health_centre = "health_centre"
    home_care = "home_care"
    institution = "institution"

    @property
    def label(self) -> str:
        return {"assessment": "评估机构", "health_centre": "镇街卫生院",
                "home_care": "居家护理服务机构", "institution": "护理机构（机构护理）"}[self]

    @property
    def kind(self) -> str:
        return "assessment" if self is Category.assessment else "provider"


class Status(StrEnum):
    normal = "normal"
    suspended = "suspended"
    exited = "exited"

    @property
    def label(self) -> str:
        return {"normal": "正常", "suspended": "暂停", "exited": "退出"}[self]

    @property
    def active(self) -> bool:
        """What `Organisation.active` holds: only a normal organisation works."""
        return self is Status.normal


def category_label(category: str, kind: str) -> str:
    """The category's label; a row loaded before the register (no category) by its kind."""
    if category in Category.__members__:
        return Category(category).label
    return "评估机构" if kind == "assessment" else "护理服务机构"


def status_change_problem(current: str, new: str) -> str | None:
    """Why `current` → `new` is refused, or None. Exit (退出) is final: a returning
    organisation signs on again under a new registration."""
    if new not in Status.__members__:
        return "请选择状态：正常、暂停或退出"
    if current == new:
        return f"该机构的状态已经是“{Status(new).label}”"
    if current == Status.exited:
        return "该机构已退出，不能再变更状态；如需重新合作，请重新登记"
    return None


def effective_on_problem(effective_on: date | None, today: date) -> str | None:
    """A status change takes effect when it is recorded; its date says since when the
    decision holds: today or an earlier day (e.g. the date of the bureau's letter), never a
    later one (nothing waits to apply it)."""
    if effective_on is None:
        return "请填写生效日期，如 2026-12-01"
    if effective_on > today:
        return ("生效日期不能晚于今天：状态变更保存后立即生效，"
                "请在生效当天再办理（可填写今天或以前的日期）")
    return None


def kind_change_problem(kind: str, category: str, in_use: bool) -> str | None:
    """Why a category that changes the organisation's kind (assessment ↔ provider) is
    refused: its users, staff, agreements and cases were registered for the old kind."""
    if not in_use or category not in Category.__members__ or Category(category).kind == kind:
        return None
    return ("该机构已有账号、服务人员、协议或业务记录，不能在评估机构与护理服务机构之间"
            "变更类别；如确需变更，请登记为新机构")


def national_code_problem(code: str, pattern: str, example: str = "") -> str | None:
    if not code:
        return "请填写医保信息业务编码"
    if not re.fullmatch(pattern, code):
        return ("医保信息业务编码格式不对" + (f"，应如 {example}" if example else "")
                + f"（本地区格式：{pattern}）")
    return None


ACCOUNT_NO = re.compile(r"^\d{8,30}$")
LICENCE_NO = re.compile(r"^[0-9A-Za-z\-（）()]{1,60}$")
_ILLEGAL = frozenset({"Cc", "Cs", "Zl", "Zp"})

FIELD_LABELS = {
    "code": "机构编号", "national_code": "医保信息业务编码", "name": "机构名称",
    "category": "机构类别", "region": "所属地区", "licence_no": "执业许可证号",
    "legal_representative": "法定代表人", "address": "地址", "contact_name": "联系人",
    "contact_phone": "联系电话", "service_towns": "服务镇街", "bank_name": "开户银行",
    "bank_account_name": "账户名称", "bank_account_no": "银行账号",
}
# (longest, required, what to write) for the free-text fields.
_TEXTS: dict[str, tuple[int, bool, str]] = {
    "name": (200, True, "请填写机构名称（不超过200个字）"),
    "legal_representative": (50, True, "请填写法定代表人姓名（不超过50个字）"),
    "address": (200, True, "请填写机构地址（不超过200个字）"),
    "contact_name": (50, True, "请填写联系人姓名（不超过50个字）"),
    "bank_name": (100, False, "开户银行不超过100个字"),
    "bank_account_name": (200, False, "账户名称不超过200个字"),
}
CODE = re.compile(r"^[0-9A-Za-z\-]{2,40}$")


@dataclass(frozen=True)
class Entry:
    """A register entry as typed: every field a string (towns comma-separated)."""

    code: str
    national_code: str
    name: str
    category: str
    licence_no: str
    legal_representative: str
    address: str
    contact_name: str
    contact_phone: str
    service_towns: str
    bank_name: str = ""
    bank_account_name: str = ""
    bank_account_no: str = ""
    # The legal representative's resident ID, for the ban register (ltc.sanctions); optional.
    legal_representative_id: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> Entry:
        return cls(**{name: str(data.get(name) or "").strip()
                      for name in cls.__dataclass_fields__})


def _clean_text(value: str) -> bool:
    return not any(unicodedata.category(ch) in _ILLEGAL for ch in value)


def check_entry(entry: Entry, *, pattern: str, towns: Mapping[str, str],
                example: str = "") -> tuple[dict[str, object], dict[str, str]]:
    """(the values to store, {}) or ({}, every problem by field). `towns`: the pooling
    region's towns, code → name; the entry's service towns must be among them and, for a
    care-service organisation, at least one."""
    problems: dict[str, str] = {}
    values: dict[str, object] = {}
    if not CODE.match(entry.code):
        problems["code"] = "请填写机构编号：2到40位字母、数字或短横线，如 ORG-P-001"
    values["code"] = entry.code
    if problem := national_code_problem(entry.national_code, pattern, example):
        problems["national_code"] = problem
    values["national_code"] = entry.national_code
    if entry.category not in Category.__members__:
        problems["category"] = "请选择机构类别：评估机构、镇街卫生院、居家护理服务机构或护理机构"
    else:
        values["category"] = entry.category
        values["kind"] = Category(entry.category).kind
    for name, (longest, required, message) in _TEXTS.items():
        text = getattr(entry, name)
        if (required and not text) or len(text) > longest or not _clean_text(text):
            problems[name] = message
        values[name] = text
    if not LICENCE_NO.match(entry.licence_no):
        problems["licence_no"] = "请填写执业许可证号（字母、数字、短横线，不超过60位）"
    values["licence_no"] = entry.licence_no
    try:
        values["contact_phone"] = normalise_phone(entry.contact_phone)
    except InvalidPhone as exc:
        problems["contact_phone"] = str(exc)
    chosen = [t for t in re.split(r"[,，;；\s]+", entry.service_towns) if t]
    unknown = [t for t in chosen if t not in towns]
    if unknown:
        problems["service_towns"] = f"本地区没有这些镇街编码：{'、'.join(unknown)}"
    elif len(set(chosen)) != len(chosen):
        problems["service_towns"] = "服务镇街重复，每个镇街只选一次"
    elif not chosen and entry.category in (Category.health_centre, Category.home_care):
        problems["service_towns"] = "请选择该机构服务的镇街（至少一个）"
    values["service_towns"] = ",".join(sorted(chosen))
    account_no = re.sub(r"\s", "", entry.bank_account_no)
    if account_no and not ACCOUNT_NO.match(account_no):
        problems["bank_account_no"] = "银行账号应为8到30位数字"
    elif account_no and not (entry.bank_name and entry.bank_account_name):
        problems["bank_account_no"] = "填写银行账号时，请同时填写开户银行和账户名称"
    elif not account_no and (entry.bank_name or entry.bank_account_name):
        problems["bank_account_no"] = "请填写银行账号，或清空开户银行和账户名称"
    values["bank_account_no"] = account_no
    legal_id = normalise_resident_id(entry.legal_representative_id)
    # date.max: a rule reads no clock; a birth date in the future is no concern here.
    if legal_id and (problem := resident_id_problem(legal_id, date.max)):
        problems["legal_representative_id"] = f"法定代表人身份证号：{problem}；不知道可以不填"
    values["legal_representative_id"] = legal_id
    return ({}, problems) if problems else (values, {})


BANK_FIELDS = ("bank_name", "bank_account_name", "bank_account_no")


def with_account_kept(entry: Entry, stored: Mapping[str, str], clear: bool) -> Entry:
    """An edit of a registered organisation: an empty bank field keeps what is on file (the
    edit form never shows the full number; an API client may leave the fields out);
    `clear` removes the account, whatever bank fields were sent."""
    return replace(entry, **{name: "" if clear else getattr(entry, name) or stored[name]
                             for name in BANK_FIELDS})


def account_tail(account_no: str) -> str:
    """A bank account as the audit log records it (尾号1234): enough to see it changed."""
    return f"尾号{account_no[-4:]}" if account_no else ""


def mask_account(account_no: str) -> str:
    """A bank account as lists show it: the last four digits only."""
    if not account_no:
        return ""
    return "*" * max(4, len(account_no) - 4) + account_no[-4:]


IMPORT_COLUMNS = ("code", "national_code", "name", "category", "licence_no",
                  "legal_representative", "address", "contact_name", "contact_phone",
                  "service_towns", "bank_name", "bank_account_name", "bank_account_no")
IMPORT_OPTIONAL = ("bank_name", "bank_account_name", "bank_account_no")
