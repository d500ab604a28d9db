"""The organisation register (定点机构): register, edit, change status (with its history),
list, show (the full bank account to admins, audited) and import a region's organisations
from CSV. Admins only; every write is audited in its transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.csvimport import BadRows, ImportReport, RowProblem, problems_of, read_records
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, Role, in_region, region_covers, require_role
from ltc.organisations.rules import (
    FIELD_LABELS,
    IMPORT_COLUMNS,
    IMPORT_OPTIONAL,
    Category,
    Entry,
    Status,
    account_tail,
    category_label,
    check_entry,
    effective_on_problem,
    kind_change_problem,
    mask_account,
    status_change_problem,
    with_account_kept,
)
from ltc.organisations.tables import Organisation, OrganisationStatusChange
from ltc.people.rules import mask_resident_id
from ltc.regions import interface as regions
from ltc.regions.rules import default_code_pattern

ADMIN = frozenset({Role.admin})
PAGE_SIZE = 50
_AUDITED = ("code", "national_code", "name", "category", "licence_no", "legal_representative",
            "address", "contact_name", "contact_phone", "service_towns", "bank_name",
            "bank_account_name", "bank_account_no",  # the account number as its tail
            "legal_representative_id")  # masked: the ban register matches it


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    audited = {k: values[k] for k in _AUDITED if k in values}
    if "bank_account_no" in audited:
        audited["bank_account_no"] = account_tail(audited["bank_account_no"])
    if audited.get("legal_representative_id"):
        audited["legal_representative_id"] = mask_resident_id(
            audited["legal_representative_id"])
    return audited


@dataclass(frozen=True)
class Place:
    """Where an entry is registered: its region and the pooling region's rules."""

    region_id: int
    pattern: str
    example: str
    towns: dict[str, str]  # the pooling region's towns, code → name


async def place_of(actor: Actor, region_code: str) -> Place:
    """The region an organisation is registered in (the actor's, by default) with the
    pooling region's national-code pattern and towns; InvalidInput naming the field."""
    place = await regions.by_code(region_code or "")
    if place is None or place.level == "village" or not in_region_path(actor, place.path):
        raise InvalidInput("invalid_organisation", "机构信息有误，请逐项修改",
                           {"region": "请填写您管辖范围内的统筹地区或镇街编码，如 370983"})
    pooling = await regions.pooling_region_of(place.path)
    assert pooling is not None  # every path starts at a pooling region
    pattern = pooling.organisation_code_pattern or default_code_pattern(pooling.code)
    example = "" if pooling.organisation_code_pattern else f"H{pooling.code[:6]}00001"
    towns = {t.code: t.name for t in await regions.at_level("town", under=pooling.path)}
    return Place(place.id, pattern, example, towns)


def in_region_path(actor: Actor, path: str) -> bool:
    """The place lies in the actor's region (the unscoped command line: everywhere)."""
    return actor.region_path is None or region_covers(actor.region_path, path)


def _invalid(problems: dict[str, str]) -> InvalidInput:
    return InvalidInput("invalid_organisation", "机构信息有误，请逐项修改", problems)


async def _check_unique(values: dict[str, Any], organisation_id: int | None) -> None:
    """Conflict naming the field when another organisation has the code or national code."""
    problems = {}
    for name, column in (("code", Organisation.code),
                         ("national_code", Organisation.national_code)):
        query = Organisation.exists().where(column == values[name])
        if organisation_id is not None:
            query = query.where(Organisation.id != organisation_id)
        if await query:
            problems[name] = f"{FIELD_LABELS[name]}“{values[name]}”已被其他机构使用"
    if problems:
        raise Conflict("duplicate_organisation", "机构编号或医保信息业务编码与已登记的机构重复",
                       problems)


async def _save(action: str, actor: Actor, organisation_id: int | None,
                values: dict[str, Any], expected_version: int | None) -> dict[str, Any]:
    try:
        await _check_unique(values, organisation_id)
        columns = {getattr(Organisation, k): v for k, v in values.items()}
        if organisation_id is None:
            rows = await Organisation.insert(Organisation(**values)).returning(Organisation.id)
            organisation_id = rows[0]["id"]
            before = None
        else:
            before = _audited(await Organisation.select(
                *[getattr(Organisation, k) for k in _AUDITED]).where(
                Organisation.id == organisation_id).first())
            await db.update_versioned(Organisation, organisation_id, expected_version or 0,
                                      columns)
    except Exception as exc:
        if db.is_unique_violation(exc):  # a concurrent registration won the race
            raise Conflict("duplicate_organisation", "机构编号或医保信息业务编码与已登记的机构重复",
                           {"national_code": "该编码刚被其他机构登记"}) from exc
        raise
    await audit.record(actor, action, "organisation", organisation_id, before=before,
                       after=_audited(values))
    return await _row(organisation_id)


async def register(actor: Actor, entry: Entry, region_code: str) -> dict[str, Any]:
    """A new organisation, status normal."""
    require_role(actor, ADMIN, "登记定点机构")
    try:
        place = await place_of(actor, region_code)
    except InvalidInput as exc:
        # The entry's own fields are still checked so the form names every problem at
        # once; the code format and towns depend on the region, so they wait for it.
        _, problems = check_entry(entry, pattern=".+", towns={})
        problems.pop("service_towns", None)
        raise _invalid({**problems, **exc.fields}) from exc
    values, problems = check_entry(entry, pattern=place.pattern, towns=place.towns,
                                   example=place.example)
    if problems:
        raise _invalid(problems)
    async with db.write_transaction():
        return await _save("organisation.registered", actor, None,
                           {**values, "region": place.region_id, "status": str(Status.normal),
                            "active": True}, None)


async def _in_use(organisation_ids: list[int]) -> set[int]:
    """The organisations another record refers to: a user, a staff record, an agreement, a
    case … (every foreign key to the register; ltc.db.bind loads every table, so none is
    missed)."""
    used: set[int] = set()
    for column in Organisation._meta.foreign_key_references:
        if column._meta.table is not OrganisationStatusChange and organisation_ids:
            used.update(await column._meta.table.select(column).where(
                column.is_in(organisation_ids)).distinct().output(as_list=True))
    return used


async def update(actor: Actor, organisation_id: int, expected_version: int,
                 entry: Entry, *, clear_account: bool = False) -> dict[str, Any]:
    """Edit the register entry (not its status or region); StaleWrite when changed meanwhile.
    Empty bank fields keep the account on file; `clear_account` removes it. A category of
    the other kind (assessment ↔ provider) is refused once anything refers to it."""
    require_role(actor, ADMIN, "修改定点机构")
    row = await get(actor, organisation_id)
    place = await place_of(actor, row["region_code"])
    entry = with_account_kept(entry, row, clear_account)
    values, problems = check_entry(entry, pattern=place.pattern, towns=place.towns,
                                   example=place.example)
    if kind_problem := kind_change_problem(row["kind"], entry.category,
                                           bool(await _in_use([organisation_id]))):
        problems["category"] = kind_problem
    if problems:
        raise _invalid(problems)
    async with db.write_transaction():
        return await _save("organisation.updated", actor, organisation_id, values,
                           expected_version)


async def set_status(actor: Actor, organisation_id: int, expected_version: int, status: str,
                     reason: str, effective_on: date | None) -> dict[str, Any]:
    """正常 / 暂停 / 退出, with a reason and the day the decision took effect (today or
    earlier: the change applies when recorded); `active` follows at once."""
    require_role(actor, ADMIN, "变更定点机构状态")
    row = await get(actor, organisation_id)
    problems = {}
    if problem := status_change_problem(row["status"], status):
        problems["status"] = problem
    reason = reason.strip()
    if not reason or len(reason) > 500:
        problems["reason"] = "请填写变更原因（不超过500个字）"
    if problem := effective_on_problem(effective_on, clock.today()):
        problems["effective_on"] = problem
    if problems:
        raise InvalidInput("invalid_status_change", "状态变更有误，请逐项修改", problems)
    assert effective_on is not None
    async with db.write_transaction():
        await db.update_versioned(Organisation, organisation_id, expected_version, {
            Organisation.status: status, Organisation.active: Status(status).active})
        await OrganisationStatusChange.insert(OrganisationStatusChange(
            organisation=organisation_id, status=status, effective_on=effective_on,
            reason=reason, changed_by=actor.id, changed_by_name=actor.name))
        await audit.record(actor, "organisation.status_changed", "organisation",
                           organisation_id, before={"status": row["status"]},
                           after={"status": status, "effective_on": effective_on.isoformat(),
                                  "reason": reason})
    return await _row(organisation_id)


_LIST_COLUMNS = (
    *Organisation.all_columns(), Organisation.region.code.as_alias("region_code"),
    Organisation.region.name.as_alias("region_name"))


def _where(actor: Actor, search: str, category: str, status: str) -> Any:
    where = in_region(actor, Organisation.region.path)
    term = search.strip()
    if term:
        where &= (db.contains(Organisation.name, term) | db.contains(Organisation.code, term)
                  | db.contains(Organisation.national_code, term))
    if category:
        where &= Organisation.category == category
    if status:
        where &= Organisation.status == status
    return where


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    """A list row: labels, and the account masked (the number itself is left out)."""
    account = row.pop("bank_account_no")
    return {**row, "category_label": category_label(row["category"], row["kind"]),
            "status_label": Status(row["status"]).label if row["status"] in
            Status.__members__ else "", "bank_account_masked": mask_account(account)}


async def list_organisations(actor: Actor, search: str = "", category: str = "",
                             status: str = "", *, page: int = 1,
                             page_size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
    """One page of the register (by code, then id: stable) and how many match."""
    require_role(actor, ADMIN, "查看定点机构")
    where = _where(actor, search, category, status)
    matched = await Organisation.count().where(where)
    rows = await Organisation.select(*_LIST_COLUMNS).where(where).order_by(
        Organisation.code).order_by(Organisation.id).limit(page_size).offset(
        (max(1, page) - 1) * page_size)
    return [_listed(row) for row in rows], matched


async def all_organisations(actor: Actor, search: str = "", category: str = "",
                            status: str = "") -> list[dict[str, Any]]:
    """Every match, for the CSV export (audited with the filters)."""
    require_role(actor, ADMIN, "导出定点机构")
    rows = await Organisation.select(*_LIST_COLUMNS).where(
        _where(actor, search, category, status)).order_by(Organisation.code).order_by(
        Organisation.id)
    async with db.write_transaction():
        await audit.record(actor, "organisation.exported", "organisation_list", "",
                           after={"search": search, "category": category, "status": status,
                                  "rows": len(rows)})
    return [_listed(row) for row in rows]


CSV_HEADER = ["机构编号", "医保信息业务编码", "机构名称", "机构类别", "所属地区", "状态",
              "联系人", "联系电话", "服务镇街", "开户银行", "银行账号（脱敏）"]


def csv_row(row: dict[str, Any]) -> list[str]:
    return [row["code"], row["national_code"] or "", row["name"], row["category_label"],
            row["region_name"], row["status_label"], row["contact_name"],
            row["contact_phone"], row["service_towns"], row["bank_name"],
            row["bank_account_masked"]]


async def _row(organisation_id: int) -> dict[str, Any]:
    row = await Organisation.select(
        Organisation.all_columns(), Organisation.region.code.as_alias("region_code"),
        Organisation.region.name.as_alias("region_name"),
        Organisation.region.path.as_alias("region_path")).where(
        Organisation.id == organisation_id).first()
    if row is None:
        raise NotFound("organisation_not_found", f"机构 {organisation_id} 不存在")
    return row


async def get(actor: Actor, organisation_id: int) -> dict[str, Any]:
    """One organisation of the actor's region, as stored (the account in full: callers
    that show it use `detail`, which audits the read)."""
    require_role(actor, ADMIN, "查看定点机构")
    row = await _row(organisation_id)
    if not in_region_path(actor, row["region_path"]):
        raise NotFound("organisation_not_found", f"机构 {organisation_id} 不存在或不在您的管辖地区")
    return row


async def detail(actor: Actor, organisation_id: int) -> dict[str, Any]:
    """The detail page's view: labels, the towns by name, the status history; showing the
    full bank account is an audited read."""
    row = await get(actor, organisation_id)
    towns = [t for t in row["service_towns"].split(",") if t]
    names = await regions.names_by_code(towns)
    history = await OrganisationStatusChange.select().where(
        OrganisationStatusChange.organisation == organisation_id).order_by(
        OrganisationStatusChange.id, ascending=False)
    if row["bank_account_no"]:
        async with db.write_transaction():
            await audit.record(actor, "organisation.account_viewed", "organisation",
                               organisation_id)
    return {**row, "category_label": category_label(row["category"], row["kind"]),
            "status_label": Status(row["status"]).label,
            "towns": [(t, names.get(t, t)) for t in towns], "history": history}


# --- CSV import ----------------------------------------------------------------------------

async def _checked_rows(actor: Actor, data: bytes, region_code: str
                        ) -> tuple[Place, list[tuple[int, dict[str, Any]]]]:
    """Every row's values, or BadRows listing every problem in the file, including codes
    repeated in the file or used by an organisation of another region."""
    place = await place_of(actor, region_code)
    records, problems = read_records(data, IMPORT_COLUMNS, IMPORT_OPTIONAL)
    rows: list[tuple[int, dict[str, Any]]] = []
    first: dict[tuple[str, str], int] = {}
    for record in records:
        values, fields = check_entry(Entry.from_mapping(record.cells), pattern=place.pattern,
                                     towns=place.towns, example=place.example)
        problems.extend(problems_of(record.line, fields, FIELD_LABELS))
        for name in ("code", "national_code"):
            key = (name, record.cells[name])
            if key[1] and key in first:
                problems.append(RowProblem(record.line, name, f"与第{first[key]}行重复",
                                           FIELD_LABELS[name]))
            first.setdefault(key, record.line)
        if values:
            rows.append((record.line, values))
    existing = {r["code"]: r for r in await Organisation.select(
        Organisation.id, Organisation.code, Organisation.national_code, Organisation.kind,
        Organisation.region).where(Organisation.code.is_in([v["code"] for _, v in rows]
                                                             or [""]))}
    used = await _in_use([r["id"] for r in existing.values()])
    taken = {r["national_code"]: r["code"] for r in await Organisation.select(
        Organisation.code, Organisation.national_code).where(
        Organisation.national_code.is_in([v["national_code"] for _, v in rows] or [""]))}
    for line, values in rows:
        other = existing.get(values["code"])
        if other and other["region"] != place.region_id:
            problems.append(RowProblem(line, "code", "该机构编号已在其他地区登记",
                                       FIELD_LABELS["code"]))
        elif other and (problem := kind_change_problem(other["kind"], values["category"],
                                                       other["id"] in used)):
            problems.append(RowProblem(line, "category", problem, FIELD_LABELS["category"]))
        owner = taken.get(values["national_code"])
        if owner is not None and owner != values["code"]:
            problems.append(RowProblem(line, "national_code", f"已被机构 {owner} 使用",
                                       FIELD_LABELS["national_code"]))
    if problems:
        raise BadRows("organisation_rows_invalid", sorted(problems, key=lambda p: p.line))
    return place, rows


async def import_organisations(actor: Actor, data: bytes, *, filename: str,
                               region_code: str, dry_run: bool = False) -> ImportReport:
    """Validate the whole file, then (unless `dry_run`) upsert every row by organisation
    code: new ones are registered (status normal), existing ones updated (their status is
    kept; empty bank columns keep the account on file). Nothing is written when any row is
    bad (BadRows)."""
    require_role(actor, ADMIN, "导入定点机构")
    sha256 = hashlib.sha256(data).hexdigest()
    name = Path(filename).name
    async with db.write_transaction():
        place, rows = await _checked_rows(actor, data, region_code)
        known = {r["code"]: r for r in await Organisation.select(
            Organisation.id, Organisation.code, Organisation.version).where(
            Organisation.code.is_in([v["code"] for _, v in rows] or [""]))}
        report = ImportReport(name, sha256, len(rows),
                              sum(1 for _, v in rows if v["code"] not in known),
                              sum(1 for _, v in rows if v["code"] in known), dry_run)
        if dry_run:
            return report
        for _, values in rows:
            current = known.get(values["code"])
            if current is None:
                await _save("organisation.registered", actor, None, {
                    **values, "region": place.region_id, "status": str(Status.normal),
                    "active": True}, None)
                continue
            if not values["bank_account_no"]:
                values = {k: v for k, v in values.items() if not k.startswith("bank_")}
            await _save("organisation.updated", actor, current["id"], values,
                        current["version"])
        await audit.record(actor, "organisation.imported", "organisation_file", sha256[:16],
                           after={k: v for k, v in report.as_dict().items() if k != "dry_run"})
    return report


async def import_file(actor: Actor, path: str | Path, *, region_code: str,
                      dry_run: bool = False) -> ImportReport:
    path = Path(path)
    return await import_organisations(actor, path.read_bytes(), filename=path.name,
                                      region_code=region_code, dry_run=dry_run)


CATEGORY_CHOICES = [(str(c), c.label) for c in Category]
STATUS_CHOICES = [(str(s), s.label) for s in Status]
