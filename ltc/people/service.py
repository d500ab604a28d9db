"""Use cases for people: register, correct, look up and search, always within the actor's
region. One person per resident ID: the UNIQUE constraint is the real guard; the check before
the insert only gives the usual case a friendlier path."""

from __future__ import annotations

from datetime import date
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import And, Or, Where, WhereRaw

from ltc import clock, db
from ltc.assessments import interface as assessments
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, ActorKind, Role, in_region, region_covers, require_role
from ltc.people.rules import (
    InvalidPhone,
    InvalidResidentId,
    ResidentId,
    insurance_number_problem,
    mask_resident_id,
    name_initials,
    name_problem,
    normalise_phone,
    normalise_resident_id,
    parse_resident_id,
    resident_id_tail,
)
from ltc.people.tables import Person
from ltc.regions import interface as regions

ADDRESS_MAX_LENGTH = 200
MAX_PAGE = 200

# Who may do what with people. Providers register and look up the people they file
# applications for; assessors see only the people of the assessments assigned to them.
REGISTER_ROLES = frozenset({Role.clerk, Role.provider})
UPDATE_ROLES = frozenset({Role.clerk})
READ_ROLES = frozenset({Role.clerk, Role.reviewer, Role.admin, Role.provider, Role.assessor})
REVEAL_ROLES = frozenset({Role.clerk, Role.reviewer})
SEARCH_ROLES = frozenset({Role.clerk, Role.reviewer, Role.admin, Role.provider})


async def _village(actor: Actor, code: str, fields: dict[str, str]) -> regions.Place | None:
    code = (code or "").strip()
    if not code:
        fields["village_code"] = "请选择居住的村（社区）"
        return None
    village = await regions.by_code(code)
    if village is None:
        fields["village_code"] = f"村居编码 {code} 不存在，请从列表中选择"
    elif village.level != "village":
        fields["village_code"] = f"{village.name}不是村（社区），请选择到村（社区）一级"
    elif actor.region_path and not region_covers(actor.region_path, village.path):
        fields["village_code"] = f"{village.name}不在您的管辖范围内"
    else:
        return village
    return None


def _details(
    *, name: str, phone: str, address: str, insurance_number: str | None,
    fields: dict[str, str],
) -> dict[str, Any]:
    """The editable details, normalised; every problem goes to `fields`."""
    if problem := name_problem(name):
        fields["name"] = problem
    try:
        phone = normalise_phone(phone)
    except InvalidPhone as exc:
        fields["phone"] = str(exc)
    address = (address or "").strip()
    if not address:
        fields["address"] = "请填写详细住址（村、组、门牌号）"
    elif len(address) > ADDRESS_MAX_LENGTH:
        fields["address"] = f"住址不能超过{ADDRESS_MAX_LENGTH}个字"
    if problem := insurance_number_problem(insurance_number):
        fields["insurance_number"] = problem
    name = (name or "").strip()
    return {
        "name": name,
        "name_initials": name_initials(name),
        "phone": phone,
        "address": address,
        "insurance_number": (insurance_number or "").strip() or None,
    }


async def _find_by_resident_id(resident_id: str) -> dict[str, Any] | None:
    return await Person.select(Person.id, Person.name, Person.region_path).where(
        Person.resident_id == resident_id).first()


def _person_exists(actor: Actor, resident_id: str, existing: dict[str, Any] | None) -> Conflict:
    """The ID is registered. Inside the actor's region the answer names the person (so the
    clerk can open the record); outside it, nothing about them: neither name nor number."""
    if existing and (actor.region_path is None
                     or region_covers(actor.region_path, existing["region_path"])):
        error = Conflict(
            "person_exists",
            f"身份证号 {mask_resident_id(resident_id)} 已登记为{existing['name']}"
            f"（人员编号 {existing['id']}），请直接查找此人，不要重复登记",
            # person_id: machine-readable for API clients
            {"resident_id": "该身份证号已登记，请直接查找此人", "person_id": str(existing["id"])})
        error.existing_person_id = existing["id"]  # type: ignore[attr-defined]
        return error
    error = Conflict(
        "person_registered_elsewhere",
        "该身份证号已在其他辖区登记，不能重复登记：请联系其登记地的医保经办机构核实或办理转移",
        {"resident_id": "该身份证号已在其他辖区登记，请联系其登记地的医保经办机构"})
    error.existing_person_id = None  # type: ignore[attr-defined]
    return error


async def check_person(
    actor: Actor, *, resident_id: str, name: str, phone: str, address: str,
    village_code: str, insurance_number: str | None = None,
) -> tuple[ResidentId, dict[str, Any], regions.Place]:
    """A registration's fields checked without writing anything (a form that fails for
    other reasons too must not leave a person behind): InvalidInput with every problem, or
    the parsed ID, the normalised details and the village."""
    require_role(actor, REGISTER_ROLES, "登记人员")
    fields: dict[str, str] = {}
    identity = None
    try:
        identity = parse_resident_id(resident_id, clock.today())
    except InvalidResidentId as exc:
        fields["resident_id"] = str(exc)
    details = _details(name=name, phone=phone, address=address,
                       insurance_number=insurance_number, fields=fields)
    village = await _village(actor, village_code, fields)
    if fields:
        raise InvalidInput("invalid_person", "人员信息有误，请按提示修改", fields)
    assert identity is not None and village is not None
    return identity, details, village


async def register_person(
    actor: Actor,
    *,
    resident_id: str,
    name: str,
    phone: str,
    address: str,
    village_code: str,
    insurance_number: str | None = None,
) -> dict[str, Any]:
    """Register a person; every field problem is reported at once. A resident ID that is
    already registered is a Conflict naming the existing person."""
    identity, details, village = await check_person(
        actor, resident_id=resident_id, name=name, phone=phone, address=address,
        village_code=village_code, insurance_number=insurance_number)
    try:
        async with db.write_transaction():
            if existing := await _find_by_resident_id(identity.number):
                raise _person_exists(actor, identity.number, existing)
            person = Person(resident_id=identity.number, sex=identity.sex,
                            birth_date=identity.birth_date, village=village.id,
                            region_path=village.path, **details)
            await person.save()
            await audit.record(actor, "person.registered", "person", person.id, after={
                "resident_id": mask_resident_id(identity.number), "name": details["name"],
                "village": village.code})
    except db.UNIQUE_VIOLATIONS as exc:
        # Two clerks registering one ID at once on PostgreSQL: both pass the check above,
        # the unique index refuses the second insert. Report it exactly like the usual case.
        if not db.is_unique_violation(exc):
            raise
        raise _person_exists(actor, identity.number,
                             await _find_by_resident_id(identity.number)) from exc
    return {**person.to_dict(), "resident_id_masked": mask_resident_id(identity.number),
            "village.code": village.code, "village.name": village.name}


_PERSON_COLUMNS = (
    Person.id, Person.name, Person.name_initials, Person.sex, Person.birth_date, Person.phone,
    Person.address, Person.region_path, Person.insurance_number, Person.created_at,
    Person.version, Person.village.code, Person.village.name,
)


def _listed(row: dict[str, Any], resident_id: str) -> dict[str, Any]:
    return {**row, "resident_id_masked": mask_resident_id(resident_id)}


async def _assigned_to(actor: Actor, person_id: int) -> bool:
    return actor.id is not None and await assessments.is_assessor_of_person(actor.id, person_id)


async def get_person(
    actor: Actor, person_id: int, *, reveal_resident_id: bool = False
) -> dict[str, Any]:
    """One person in the actor's region. The full resident ID is returned only when
    `reveal_resident_id` is asked for, by a role that needs it, and that is audited."""
    require_role(actor, READ_ROLES, "查看人员信息")
    row = await (
        Person.select(*_PERSON_COLUMNS, Person.resident_id)
        .where((Person.id == person_id) & in_region(actor, Person.region_path))
        .first()
    )
    if row is None or (actor.role == Role.assessor and actor.kind != ActorKind.system
                       and not await _assigned_to(actor, person_id)):
        raise NotFound("person_not_found", f"人员 {person_id} 不存在或不在您的管辖范围内")
    resident_id = row.pop("resident_id")
    person = _listed(row, resident_id)
    if reveal_resident_id:
        require_role(actor, REVEAL_ROLES, "查看完整身份证号码")
        async with db.write_transaction():
            await audit.record(actor, "person.resident_id_viewed", "person", person_id)
        person["resident_id"] = resident_id
    return person


async def update_person(
    actor: Actor,
    person_id: int,
    expected_version: int,
    *,
    name: str,
    phone: str,
    address: str,
    village_code: str,
    insurance_number: str | None = None,
) -> dict[str, Any]:
    """Correct a person's details (not the resident ID: that is who the person is).
    Refused with StaleWrite if someone saved the person since it was loaded."""
    require_role(actor, UPDATE_ROLES, "修改人员信息")
    before = await get_person(actor, person_id)
    fields: dict[str, str] = {}
    details = _details(name=name, phone=phone, address=address,
                       insurance_number=insurance_number, fields=fields)
    village = await _village(actor, village_code, fields)
    if fields:
        raise InvalidInput("invalid_person", "人员信息有误，请按提示修改", fields)
    assert village is not None
    changes = {**{getattr(Person, key): value for key, value in details.items()},
               Person.village: village.id, Person.region_path: village.path}
    async with db.write_transaction():
        after = await db.update_versioned(Person, person_id, expected_version, changes)
        keys = ("name", "phone", "address", "insurance_number")
        await audit.record(
            actor, "person.updated", "person", person_id,
            before={**{k: before[k] for k in keys}, "village": before["village.code"]},
            after={**{k: details[k] for k in keys}, "village": village.code},
        )
    return _listed({k: v for k, v in after.items() if k != "resident_id"}, after["resident_id"])


def _digits_and_x(text: str) -> bool:
    return text[:-1].isdigit() and (text[-1].isdigit() or text[-1] == "X")


def matching(
    q: str, *, name: Column, initials: Column, resident_id: Column, phone: Column
) -> Where | Or | None:
    """The condition a search box applies to a person (directly or through a join): name
    prefix, pinyin-initials prefix, resident-ID prefix or full ID, phone prefix or the same
    phone typed another way. None when `q` is blank.

    Prefixes, not substrings: clerks type a name from its start (surname first), and a prefix
    is what an index answers — on 1,000,000 people a substring match scans them all (measured:
    ~1.3 s; see bench/RESULTS.md). On PostgreSQL the pattern-ops indexes of the
    2026-11-22T08:30 migration serve every branch of this OR."""
    text = " ".join((q or "").split())
    if not text:
        return None
    conditions: list[Any] = []
    compact = normalise_resident_id(text)
    if text.isascii() and text.replace(" ", "").isalpha():
        conditions.append(initials.like(text.replace(" ", "").lower() + "%"))
        conditions.append(name.like(text + "%"))  # foreign residents' Latin names
    elif _digits_and_x(compact):
        conditions.append(resident_id.like(compact + "%"))
        if compact.isdigit():
            conditions.append(phone.like(compact + "%"))
    else:
        conditions.append(name.like(text + "%"))
    try:
        conditions.append(phone == normalise_phone(text))
    except InvalidPhone:
        pass
    where = conditions[0]
    for condition in conditions[1:]:
        where = where | condition
    return where


# The expression the 2026-12-11T09:00 migration indexes on both engines.
ID_TAIL = "substr(resident_id, 15, 4)"


def person_matching(q: str, within: str | None = None) -> Where | Or | And | WhereRaw | None:
    """`matching` on the person table, and within a town or village (`within`, its region
    path) also the last four characters of the resident ID: four digits alone are
    ambiguous across a county (and a prefix of many phones), not among one town's people.
    None when there is neither a search nor a place."""
    condition: Any = matching(q, name=Person.name, initials=Person.name_initials,
                              resident_id=Person.resident_id, phone=Person.phone)
    if not within:
        return condition
    if condition is not None and (tail := resident_id_tail(q)):
        condition = condition | WhereRaw(f"{ID_TAIL} = {{}}", tail)
    area = (Person.region_path == within) | Person.region_path.like(within + "/%")
    return area if condition is None else condition & area


async def search_people(
    actor: Actor, q: str = "", limit: int = 50, after_id: int = 0, within: str | None = None
) -> list[dict[str, Any]]:
    """People in the actor's region matching `q` (and in the place whose region path is
    `within`, when given), by id (stable keyset pagination: pass the last id seen as
    `after_id`). Resident IDs come back masked.

    Providers find a person only by the full resident ID (they hold the ID card at the
    home): they must not browse everyone in their town."""
    require_role(actor, SEARCH_ROLES, "查询人员")
    limit = max(1, min(limit, MAX_PAGE))
    query = Person.select(*_PERSON_COLUMNS, Person.resident_id).where(
        in_region(actor, Person.region_path) & (Person.id > after_id))
    if actor.role == Role.provider and actor.kind != ActorKind.system:
        number = normalise_resident_id(q)
        if len(number) != 18:
            return []
        query = query.where(Person.resident_id == number)
    elif (condition := person_matching(q, within)) is not None:
        query = query.where(condition)
    rows = await query.order_by(Person.id).limit(limit)
    return [_listed({k: v for k, v in row.items() if k != "resident_id"}, row["resident_id"])
            for row in rows]


async def record_death(person_id: int, day: date) -> bool:
    """Record the day of death (an earlier report wins), inside the caller's transaction,
    whose audit event names the source. True when it changed."""
    changed = await Person.update({Person.deceased_on: day, Person.version: Person.version + 1}
                                  ).where((Person.id == person_id) & (
                                      Person.deceased_on.is_null() | (Person.deceased_on > day))
                                  ).returning(Person.id)
    return bool(changed)
