"""Use cases of the staff register (实名制): register, edit, record training, import a CSV,
list and look up. Admins and clerks keep it, within their region. Every change is audited on
object "staff" (its history); showing a full resident ID is audited too."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.audit import service as audit
from ltc.csvimport import BadRows, RowProblem, problems_of, read_records
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, ActorKind, Role, in_region, region_covers, require_role
from ltc.organisations import interface as organisations
from ltc.people.rules import mask_resident_id, name_initials
from ltc.staff.rules import (
    EXPIRING_WITHIN_DAYS,
    StaffKind,
    StaffValues,
    account_problem,
    employer_problem,
    staff_values,
    training_values,
)
from ltc.staff.tables import StaffMember, StaffTraining

KEEP_ROLES = frozenset({Role.admin, Role.clerk})
READ_ROLES = KEEP_ROLES
IMPORT_COLUMNS = ("resident_id", "name", "kind", "certificate_no", "certificate_until",
                  "staff_code", "organisation")
IMPORT_OPTIONAL = ("status", "username")
COLUMN_LABELS = {"resident_id": "身份证号码", "name": "姓名", "kind": "资质类别",
                 "certificate_no": "证书编号", "certificate_until": "证书有效期至",
                 "staff_code": "医保人员编码", "organisation": "工作单位（机构编码）",
                 "status": "状态", "username": "关联账号"}


@dataclass(frozen=True)
class Checked:
    """A staff record ready to write: its values, employer and linked account."""

    values: StaffValues
    organisation_id: int
    region_path: str
    user_id: int | None

    def columns(self) -> dict[Any, Any]:
        v = self.values
        return {StaffMember.resident_id: v.resident_id, StaffMember.name: v.name,
                StaffMember.name_initials: name_initials(v.name), StaffMember.kind: str(v.kind),
                StaffMember.certificate_no: v.certificate_no,
                StaffMember.certificate_until: v.certificate_until,
                StaffMember.staff_code: v.staff_code,
                StaffMember.organisation: self.organisation_id,
                StaffMember.region_path: self.region_path, StaffMember.user: self.user_id,
                StaffMember.status: str(v.status)}

    def audited(self) -> dict[str, Any]:
        """What the audit log records: the resident ID masked, so a changed one shows."""
        v = self.values
        return {"resident_id": mask_resident_id(v.resident_id or ""), "name": v.name,
                "kind": str(v.kind), "certificate_no": v.certificate_no,
                "certificate_until": v.certificate_until.isoformat(),
                "staff_code": v.staff_code, "organisation": self.organisation_id,
                "user": self.user_id, "status": str(v.status)}


async def _taken(column: Any, value: str, staff_id: int | None) -> dict[str, Any] | None:
    query = StaffMember.select(StaffMember.id, StaffMember.name).where(column == value)
    if staff_id is not None:
        query = query.where(StaffMember.id != staff_id)
    return await query.first()


async def check(actor: Actor, values: dict[str, str], *, staff_id: int | None = None,
                today: date | None = None) -> tuple[Checked | None, dict[str, str]]:
    """Every problem with a staff record as entered, by field, at once (一次性告知): the
    rules, the employer (an organisation code in the actor's region, of the right kind),
    the account to link (username, optional), and a resident ID, staff code or account
    already registered to someone else."""
    checked, problems = staff_values(values, today or clock.today())
    kind = next((k for k in StaffKind if k.value == (values.get("kind") or "").strip()), None)
    code = (values.get("organisation") or "").strip()
    employer = await organisations.by_code(code) if code else None
    if employer is None:
        problems["organisation"] = (f"机构编码 {code} 不存在" if code
                                    else "请填写工作单位的机构编码")
    elif actor.region_path and not region_covers(actor.region_path, employer.region_path):
        problems["organisation"] = f"机构 {code} 不在您的管辖范围内"
    elif kind and (problem := employer_problem(kind, employer.kind, employer.active)):
        problems["organisation"] = problem
    username = (values.get("username") or "").strip()
    account = await accounts.account_by_username(username) if username else None
    if username and account is None:
        problems["username"] = f"账号 {username} 不存在"
    elif account and kind and employer and (problem := account_problem(
            kind, account.role, account.organisation_id, employer.id)):
        problems["username"] = problem
    if checked:
        for field, column, what in (("resident_id", StaffMember.resident_id, checked.resident_id),
                                    ("staff_code", StaffMember.staff_code, checked.staff_code)):
            if other := await _taken(column, what, staff_id):
                problems[field] = f"已登记给{other['name']}（人员编号 {other['id']}），不能重复登记"
    if account and (other := await _taken(StaffMember.user, account.id, staff_id)):
        problems["username"] = f"账号 {username} 已关联{other['name']}的登记"
    if problems or checked is None or employer is None:
        return None, problems
    return Checked(checked, employer.id, employer.region_path,
                   account.id if account else None), {}


def _refused(fields: dict[str, str]) -> InvalidInput:
    return InvalidInput("invalid_staff", "服务人员信息有误，请按提示修改", fields)


async def _save_new(actor: Actor, checked: Checked, note: str | None = None) -> int:
    rows = await StaffMember.insert(StaffMember(**{
        c._meta.name: v for c, v in checked.columns().items()})).returning(StaffMember.id)
    staff_id = rows[0]["id"]
    await audit.record(actor, "staff.registered", "staff", staff_id, after=checked.audited(),
                       note=note)
    return staff_id


async def create_staff(actor: Actor, values: dict[str, str]) -> dict[str, Any]:
    """Register a member of staff; InvalidInput listing every problem, nothing written."""
    require_role(actor, KEEP_ROLES, "登记服务人员")
    checked, problems = await check(actor, values)
    if checked is None:
        raise _refused(problems)
    try:
        async with db.write_transaction():
            staff_id = await _save_new(actor, checked)
    except db.UNIQUE_VIOLATIONS as exc:  # the same person registered twice at once
        raise Conflict("staff_duplicate", "该人员刚被其他人登记，请刷新列表核对") from exc
    return await get_staff(actor, staff_id)


async def _visible(actor: Actor, staff_id: int) -> dict[str, Any]:
    row = await StaffMember.select(
        StaffMember.all_columns(), StaffMember.organisation.code,
        StaffMember.organisation.name, StaffMember.user.username,
    ).where((StaffMember.id == staff_id) & in_region(actor, StaffMember.region_path)).first()
    if row is None:
        raise NotFound("staff_not_found", f"服务人员 {staff_id} 不存在或不在您的管辖地区")
    return row


async def get_staff(actor: Actor, staff_id: int) -> dict[str, Any]:
    require_role(actor, READ_ROLES, "查看服务人员")
    return await _visible(actor, staff_id)


async def reveal_resident_id(actor: Actor, staff_id: int) -> dict[str, Any]:
    """The record with its full resident ID, for the edit form; the showing is audited."""
    require_role(actor, KEEP_ROLES, "查看服务人员完整身份证号")
    row = await _visible(actor, staff_id)
    async with db.write_transaction():
        await audit.record(actor, "staff.resident_id_viewed", "staff", staff_id)
    return row


def form_of(row: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the form's and the API's text fields."""
    return {"resident_id": row["resident_id"] or "", "name": row["name"], "kind": row["kind"],
            "certificate_no": row["certificate_no"],
            "certificate_until": row["certificate_until"].isoformat(),
            "staff_code": row["staff_code"] or "", "organisation": row["organisation.code"],
            "username": row["user.username"] or "", "status": row["status"],
            "version": row["version"]}


async def update_staff(actor: Actor, staff_id: int, *, expected_version: int,
                       values: dict[str, str]) -> dict[str, Any]:
    """Edit a record (a renewed certificate, another employer, 离职 …); StaleWrite if someone
    saved it since it was read."""
    require_role(actor, KEEP_ROLES, "修改服务人员")
    before = await _visible(actor, staff_id)
    checked, problems = await check(actor, values, staff_id=staff_id)
    if checked is None:
        raise _refused(problems)
    try:
        async with db.write_transaction():
            await db.update_versioned(StaffMember, staff_id, expected_version,
                                      checked.columns())
            await audit.record(actor, "staff.updated", "staff", staff_id, before={
                k: (v.isoformat() if isinstance(v, date) else v) for k, v in before.items()
                if k in checked.audited()} | {
                "resident_id": mask_resident_id(before["resident_id"] or "")},
                after=checked.audited())
    except db.UNIQUE_VIOLATIONS as exc:
        raise Conflict("staff_duplicate", "身份证号码、医保人员编码或账号刚被登记给他人，"
                       "请核对") from exc
    return await _visible(actor, staff_id)


async def add_training(actor: Actor, staff_id: int, values: dict[str, str]
                       ) -> dict[str, Any]:
    """Record one training (date, course, class hours, issuer) of a member of staff."""
    require_role(actor, KEEP_ROLES, "登记培训记录")
    await _visible(actor, staff_id)
    checked, problems = training_values(values, clock.today())
    if checked is None:
        raise InvalidInput("invalid_training", "培训记录有误，请按提示修改", problems)
    async with db.write_transaction():
        rows = await StaffTraining.insert(StaffTraining(
            staff=staff_id, trained_on=checked.trained_on, course=checked.course,
            hours=checked.hours, issuer=checked.issuer,
            recorded_by=actor.id if actor.kind == ActorKind.user else None,
            recorded_at=clock.now())).returning(StaffTraining.id)
        await audit.record(actor, "staff.training_recorded", "staff", staff_id, after={
            "training": rows[0]["id"], "trained_on": checked.trained_on.isoformat(),
            "course": checked.course, "hours": checked.hours, "issuer": checked.issuer})
    return await StaffTraining.select().where(StaffTraining.id == rows[0]["id"]).first()


async def trainings_of(staff_id: int) -> list[dict[str, Any]]:
    return await StaffTraining.select().where(StaffTraining.staff == staff_id).order_by(
        StaffTraining.trained_on, ascending=False).order_by(StaffTraining.id, ascending=False)


async def history_of(staff_id: int) -> list[dict[str, Any]]:
    return await audit.timeline("staff", staff_id)


# --- lists --------------------------------------------------------------------------------

EXPIRY_FILTERS = {"due": f"已过期或{EXPIRING_WITHIN_DAYS}天内到期",
                  "expiring": f"{EXPIRING_WITHIN_DAYS}天内到期", "expired": "已过期",
                  "incomplete": "待补录身份证号或医保人员编码"}
_LIST_COLUMNS = (StaffMember.id, StaffMember.resident_id, StaffMember.name,
                 StaffMember.kind, StaffMember.certificate_no, StaffMember.certificate_until,
                 StaffMember.staff_code, StaffMember.status, StaffMember.version,
                 StaffMember.organisation.code, StaffMember.organisation.name,
                 StaffMember.user.username)


def _filters(actor: Actor, q: str, kind: str, status: str, organisation: str, expiry: str,
             today: date) -> list[Any]:
    where: list[Any] = [in_region(actor, StaffMember.region_path)]
    needle = q.strip()
    if needle:
        where.append(db.contains(StaffMember.name, needle)
                     | StaffMember.name_initials.like(needle.lower() + "%")
                     | (StaffMember.resident_id == needle.upper())
                     | (StaffMember.staff_code == needle.upper())
                     | (StaffMember.certificate_no == needle))
    for column, value in ((StaffMember.kind, kind), (StaffMember.status, status),
                          (StaffMember.organisation.code, organisation.strip())):
        if value:
            where.append(column == value)
    if expiry == "expiring":
        where.append((StaffMember.certificate_until >= today) & (
            StaffMember.certificate_until <= today + timedelta(days=EXPIRING_WITHIN_DAYS)))
    elif expiry == "expired":
        where.append(StaffMember.certificate_until < today)
    elif expiry == "due":
        where.append(StaffMember.certificate_until
                     <= today + timedelta(days=EXPIRING_WITHIN_DAYS))
    elif expiry == "incomplete":
        where.append(StaffMember.resident_id.is_null() | StaffMember.staff_code.is_null())
    return where


async def list_staff(actor: Actor, *, q: str = "", kind: str = "", status: str = "",
                     organisation: str = "", expiry: str = "", after: int = 0,
                     limit: int = 50) -> list[dict[str, Any]]:
    """The register in the actor's region, by id (stable keyset paging), filtered."""
    require_role(actor, READ_ROLES, "查看服务人员")
    where = _filters(actor, q, kind, status, organisation, expiry, clock.today())
    return await StaffMember.select(*_LIST_COLUMNS).where(
        *where, StaffMember.id > after).order_by(StaffMember.id).limit(limit)


async def count_staff(actor: Actor, **filters: str) -> int:
    return await StaffMember.count().where(*_filters(actor, today=clock.today(), **{
        k: filters.get(k, "") for k in ("q", "kind", "status", "organisation", "expiry")}))


async def certificates_due_count(actor: Actor) -> int:
    """在职 staff whose certificate has expired or ends within EXPIRING_WITHIN_DAYS (the
    clerk's work: an expired one stays on the list until renewed or the person leaves)."""
    return await count_staff(actor, status="active", expiry="due")


# --- CSV import -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportReport:
    filename: str
    sha256: str
    rows: int
    dry_run: bool


async def _checked_rows(actor: Actor, data: bytes) -> list[Checked]:
    records, problems = read_records(data, (*IMPORT_COLUMNS, *IMPORT_OPTIONAL),
                                     IMPORT_OPTIONAL, other_columns=True)
    checked: list[Checked] = []
    first: dict[tuple[str, Any], int] = {}
    for record in records:
        one, row_problems = await check(actor, record.cells)
        problems += problems_of(record.line, row_problems, COLUMN_LABELS)
        if one is None:
            continue
        for field, value in (("resident_id", one.values.resident_id),
                             ("staff_code", one.values.staff_code), ("username", one.user_id)):
            if value is not None and (field, value) in first:
                problems.append(RowProblem(record.line, field,
                                           f"与第{first[(field, value)]}行重复",
                                           COLUMN_LABELS[field]))
            elif value is not None:
                first[(field, value)] = record.line
        checked.append(one)
    if problems:
        raise BadRows("staff_rows_invalid", sorted(problems, key=lambda p: (p.line, p.field)),
                      what="人员")
    return checked


async def import_staff(actor: Actor, data: bytes, *, filename: str, dry_run: bool = False
                       ) -> ImportReport:
    """Register every row of a CSV (IMPORT_COLUMNS, optional IMPORT_OPTIONAL), all or
    nothing: BadRows lists every bad row with its line, and nothing is written. A dry run
    checks and writes nothing."""
    require_role(actor, KEEP_ROLES, "导入服务人员")
    sha256 = hashlib.sha256(data).hexdigest()
    name = filename.rsplit("/", 1)[-1][:100]
    checked = await _checked_rows(actor, data)
    report = ImportReport(name, sha256, len(checked), dry_run)
    if dry_run:
        return report
    try:
        async with db.write_transaction():
            for one in checked:
                await _save_new(actor, one, note=f"导入 {name}")
            await audit.record(actor, "staff.imported", "staff_file", sha256[:16],
                               after={"filename": name, "rows": len(checked)})
    except db.UNIQUE_VIOLATIONS as exc:
        raise Conflict("staff_duplicate", "导入期间有人登记了文件中的人员，未导入任何人员；"
                       "请重新试运行核对") from exc
    return report
