"""Pure rules of the staff register (实名制, SPEC §12, 21号/29号): who a member of staff is,
their national staff code, their certificate and when it stops them working. No I/O.

A certificate counts through its last valid day inclusive (`certificate_until`). A member of
staff whose certificate has expired, or who is not 在职, is neither drawn for assessments nor
logs visits; the refusal carries a stable code (REFUSALS) and a Chinese reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ltc.people.rules import PROVINCE_CODES, name_problem, resident_id_problem


class StaffKind(StrEnum):
    """The qualification a member of staff works under."""

    nurse = "nurse"  # 护士
    care_worker = "care_worker"  # 护理员
    assessor = "assessor"  # 评估员
    expert = "expert"  # 评估专家

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def assesses(self) -> bool:
        return self in (StaffKind.assessor, StaffKind.expert)


KIND_LABELS = {StaffKind.nurse: "护士", StaffKind.care_worker: "护理员",
               StaffKind.assessor: "评估员", StaffKind.expert: "评估专家"}
# Which kinds an account of each role may be linked to.
KINDS_OF_ROLE = {"assessor": (StaffKind.assessor, StaffKind.expert),
                 "provider": (StaffKind.nurse, StaffKind.care_worker)}


class StaffStatus(StrEnum):
    active = "active"  # 在职
    suspended = "suspended"  # 暂停执业
    left = "left"  # 离职

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {StaffStatus.active: "在职", StaffStatus.suspended: "暂停",
                 StaffStatus.left: "离职"}

# 医保人员编码 (national staff code), as NHSA codes its personnel (医保办函〔2022〕39号 and the
# doctor and nurse codes before it): 14 characters — a category of one or two capital
# letters (N 护士, D 医师, H… others), the GB/T 2260 six-digit region code where the person
# is registered, then the sequence number that fills the code to 14.
STAFF_CODE_LENGTH = 14
STAFF_CODE = re.compile(r"^([A-Z]{1,2})(\d{6})(\d+)$")
CERTIFICATE_MAX_LENGTH = 50
EXPIRING_WITHIN_DAYS = 30  # the clerk's list of certificates about to expire
COURSE_MAX_LENGTH = 100
ISSUER_MAX_LENGTH = 100
MAX_TRAINING_HOURS = 1000


def normalise_staff_code(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def staff_code_problem(value: str) -> str | None:
    code = normalise_staff_code(value)
    if not code:
        return "请填写医保人员编码（14位，如 N3709830000012）"
    match = STAFF_CODE.match(code)
    if len(code) != STAFF_CODE_LENGTH or match is None:
        return (f"医保人员编码应为{STAFF_CODE_LENGTH}位：1至2位大写字母（人员类别）、6位行政区划"
                f"代码和顺序号，如 N3709830000012；您填写的是“{code}”")
    if match.group(2)[:2] not in PROVINCE_CODES:
        return (f"医保人员编码第{len(match.group(1)) + 1}位起的行政区划代码"
                f"“{match.group(2)}”无效，请核对")
    return None


def parse_day(text: str) -> date | None:
    """A YYYY-MM-DD day; ValueError for anything else (empty: None)."""
    text = (text or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(text)
    return date.fromisoformat(text)


def _day(values: dict[str, str], field: str, problems: dict[str, str],
         missing: str) -> date | None:
    try:
        day = parse_day(values.get(field, ""))
    except ValueError:
        problems[field] = "日期格式应为 YYYY-MM-DD，例如 2027-06-30，且须是存在的日期"
        return None
    if day is None:
        problems[field] = missing
    return day


@dataclass(frozen=True)
class StaffValues:
    """A member of staff as entered, checked (ltc.staff.rules.staff_values)."""

    resident_id: str
    name: str
    kind: StaffKind
    certificate_no: str
    certificate_until: date
    staff_code: str
    status: StaffStatus


def staff_values(values: dict[str, str], today: date
                 ) -> tuple[StaffValues | None, dict[str, str]]:
    """The checked values of a form, API body or CSV row (text by field name), or every
    problem with them at once, by field, in Chinese. The employer is checked by the service
    (it needs the register of organisations)."""
    problems: dict[str, str] = {}
    resident_id = re.sub(r"\s+", "", values.get("resident_id", "")).upper()
    if (problem := resident_id_problem(resident_id, today)) is not None:
        problems["resident_id"] = problem
    name = (values.get("name") or "").strip()
    if (problem := name_problem(name)) is not None:
        problems["name"] = problem
    kind = status = None
    try:
        kind = StaffKind((values.get("kind") or "").strip())
    except ValueError:
        problems["kind"] = "请选择资质类别：" + "、".join(
            f"{k.label}（{k.value}）" for k in StaffKind)
    try:
        status = StaffStatus((values.get("status") or "active").strip())
    except ValueError:
        problems["status"] = "状态只能是：" + "、".join(
            f"{s.label}（{s.value}）" for s in StaffStatus)
    certificate_no = (values.get("certificate_no") or "").strip()
    if not certificate_no:
        problems["certificate_no"] = "请填写资格证书编号"
    elif len(certificate_no) > CERTIFICATE_MAX_LENGTH:
        problems["certificate_no"] = f"证书编号不能超过{CERTIFICATE_MAX_LENGTH}个字符"
    until = _day(values, "certificate_until", problems, "请填写证书有效期至（最后有效的一天）")
    staff_code = normalise_staff_code(values.get("staff_code", ""))
    if (problem := staff_code_problem(staff_code)) is not None:
        problems["staff_code"] = problem
    if problems:
        return None, problems
    assert kind is not None and status is not None and until is not None
    return StaffValues(resident_id=resident_id, name=name, kind=kind,
                       certificate_no=certificate_no, certificate_until=until,
                       staff_code=staff_code, status=status), {}


@dataclass(frozen=True)
class TrainingValues:
    trained_on: date
    course: str
    hours: int
    issuer: str


def training_values(values: dict[str, str], today: date
                    ) -> tuple[TrainingValues | None, dict[str, str]]:
    """A training record (date, course, class hours 学时, issuer), or every problem."""
    problems: dict[str, str] = {}
    trained_on = _day(values, "trained_on", problems, "请填写培训日期")
    if trained_on is not None and trained_on > today:
        problems["trained_on"] = "培训日期不能晚于今天"
    course = (values.get("course") or "").strip()
    if not course or len(course) > COURSE_MAX_LENGTH:
        problems["course"] = f"请填写培训课程名称（不超过{COURSE_MAX_LENGTH}个字）"
    issuer = (values.get("issuer") or "").strip()
    if not issuer or len(issuer) > ISSUER_MAX_LENGTH:
        problems["issuer"] = f"请填写培训或发证机构（不超过{ISSUER_MAX_LENGTH}个字）"
    text = (values.get("hours") or "").strip()
    hours = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= hours <= MAX_TRAINING_HOURS:
        problems["hours"] = f"学时应为1至{MAX_TRAINING_HOURS}之间的整数"
    if problems:
        return None, problems
    assert trained_on is not None
    return TrainingValues(trained_on=trained_on, course=course, hours=hours,
                          issuer=issuer), {}


# Why a member of staff may not work on a day: a stable code for the API, Chinese for people.
REFUSALS = {
    "staff_not_registered": "未在服务人员实名登记中登记",
    "staff_not_active": "在人员登记中的状态不是“在职”",
    "staff_kind_mismatch": "登记的资质类别不能从事此项工作",
    "staff_certificate_expired": "资格证书已过期",
}


@dataclass(frozen=True)
class Refusal:
    code: str  # a key of REFUSALS
    message: str  # the reason in Chinese, naming the person and what to do


@dataclass(frozen=True)
class Standing:
    """What the register says of one member of staff, as the work that needs them reads it."""

    staff_id: int
    name: str
    kind: StaffKind
    status: StaffStatus
    certificate_no: str
    certificate_until: date

    def certified_on(self, on: date) -> bool:
        """在职 with a certificate valid on `on` (its last valid day included)."""
        return self.status == StaffStatus.active and on <= self.certificate_until

    def is_expert_on(self, on: date) -> bool:
        return self.kind == StaffKind.expert and self.certified_on(on)


def refusal(standing: Standing | None, kinds: tuple[StaffKind, ...], on: date,
            name: str = "") -> Refusal | None:
    """Why the person may not do work needing one of `kinds` on day `on`, or None."""
    who = standing.name if standing else name
    if standing is None:
        return Refusal("staff_not_registered",
                       f"{who}{REFUSALS['staff_not_registered']}，不能从事此项工作："
                       "请由经办机构在“服务人员”中登记并关联其账号")
    if standing.kind not in kinds:
        return Refusal("staff_kind_mismatch",
                       f"{who}登记的资质是{standing.kind.label}，只有"
                       + "或".join(k.label for k in kinds) + "可以从事此项工作")
    if standing.status != StaffStatus.active:
        return Refusal("staff_not_active",
                       f"{who}在人员登记中的状态为“{standing.status.label}”，不能从事此项工作")
    if on > standing.certificate_until:
        return Refusal("staff_certificate_expired",
                       f"{who}的资格证书（{standing.certificate_no}）已于"
                       f"{standing.certificate_until.isoformat()}到期，{on.isoformat()}不能"
                       "从事此项工作：请更新人员登记中的证书信息")
    return None


def expiry_state(until: date, today: date, within_days: int = EXPIRING_WITHIN_DAYS) -> str:
    """"" | 即将到期 (within `within_days`, the last day included) | 已过期."""
    if until < today:
        return "已过期"
    if (until - today).days <= within_days:
        return "即将到期"
    return ""


def employer_problem(kind: StaffKind, organisation_kind: str, organisation_active: bool
                     ) -> str | None:
    """Assessors and experts work for an assessment organisation; nurses and care workers for
    a care provider or institution (29号: an assessment organisation provides no care)."""
    if not organisation_active:
        return "该机构已停用，不能登记其服务人员"
    if kind.assesses != (organisation_kind == "assessment"):
        return (f"{kind.label}须属于评估机构" if kind.assesses
                else f"{kind.label}须属于护理服务机构，不能属于评估机构")
    return None


def account_problem(kind: StaffKind, role: str, account_organisation: int | None,
                    organisation_id: int) -> str | None:
    """Whether an account may be linked to a staff record of `kind` at `organisation_id`."""
    if kind not in KINDS_OF_ROLE.get(role, ()):
        return (f"{kind.label}只能关联"
                + ("评估员角色" if kind.assesses else "护理机构角色") + "的账号")
    if account_organisation != organisation_id:
        return "账号所属机构与登记的工作单位不同，请先核对账号或工作单位"
    return None
