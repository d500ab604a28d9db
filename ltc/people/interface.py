"""What other parts of LTC read of registered people, as typed values; no other context reads
the person table. Scoped by the actor's region unless the caller is the system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.columns import ForeignKey
from piccolo.query import Select

from ltc import db
from ltc.identity import Actor, in_region
from ltc.people.rules import mask_resident_id
from ltc.people.service import person_matching
from ltc.people.tables import Person


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str
    resident_id: str
    birth_date: date
    region_path: str
    insurance_number: str | None
    deceased_on: date | None


_COLUMNS = (Person.id, Person.name, Person.resident_id, Person.birth_date, Person.region_path,
            Person.insurance_number, Person.deceased_on)


async def person_in_scope(actor: Actor, person_id: int) -> PersonRef | None:
    """The person, if registered in the actor's region."""
    row = await Person.select(*_COLUMNS).where(
        (Person.id == person_id) & in_region(actor, Person.region_path)).first()
    return PersonRef(**row) if row else None


async def person_by_resident_id(resident_id: str) -> PersonRef | None:
    """Unscoped: for integrations (enrolment events) that name a person by resident ID."""
    row = await Person.select(*_COLUMNS).where(Person.resident_id == resident_id).first()
    return PersonRef(**row) if row else None


async def person_by_id(person_id: int) -> PersonRef | None:
    """Unscoped: for callers that already hold a scoped row naming the person."""
    row = await Person.select(*_COLUMNS).where(Person.id == person_id).first()
    return PersonRef(**row) if row else None


def ids_matching(q: str, within: str | None = None) -> Select | None:
    """A sub-select of the ids of people the search box finds (name, pinyin initials,
    resident ID, phone; within a town or village — `within`, its region path — also the
    last four characters of the ID), for `column.is_in(...)`: the planner answers it from
    the person indexes. None when there is neither a search nor a place."""
    condition = person_matching(q, within)
    return None if condition is None else Person.select(Person.id).where(condition)


@dataclass(frozen=True)
class PersonBrief:
    id: int
    name: str
    name_initials: str
    resident_id_masked: str
    region_path: str  # the village's path
    deceased_on: object = None


async def briefs_of(person_ids: list[int]) -> dict[int, PersonBrief]:
    """Name, masked resident ID and village path of each person, by id. Callers have checked
    the people are in the actor's scope."""
    found: dict[int, PersonBrief] = {}
    for start in range(0, len(person_ids), 2000):
        rows = await Person.select(Person.id, Person.name, Person.name_initials,
                                   Person.resident_id, Person.region_path,
                                   Person.deceased_on).where(
            db.ids_in(Person.id, person_ids[start:start + 2000]))
        for row in rows:
            found[row["id"]] = PersonBrief(
                id=row["id"], name=row["name"], name_initials=row["name_initials"],
                resident_id_masked=mask_resident_id(row["resident_id"]),
                region_path=row["region_path"], deceased_on=row["deceased_on"])
    return found


def person_search(person: ForeignKey, q: str, within: str | None = None) -> Any:
    """What a list applies for its search box and 乡镇/村居 filter to its column naming the
    person (`Entitlement.person`, …): the people `ids_matching` finds, and — as these lists
    always allowed, their rows being far fewer than the register's — any part of the name
    (秀英 finds 张秀英). None when there is neither a search nor a place."""
    found = ids_matching(q, within)
    if found is None:
        return None
    condition: Any = person.is_in(found)
    if text := " ".join(q.split()):
        part = db.contains(person.name, text)
        if within:
            part = part & person.is_in(ids_matching("", within))
        condition = condition | part
    return condition


async def homes_under(region_path: str) -> dict[int, tuple[float, float]]:
    """The registered home (latitude, longitude) of each person under `region_path` whose
    address has been located, by id: for the 稽核 rules (ltc.inspections), which hold no
    personal data beyond the point."""
    rows = await Person.select(Person.id, Person.latitude, Person.longitude).where(
        Person.region_path.like(f"{region_path}/%") & Person.latitude.is_not_null()
        & Person.longitude.is_not_null())
    return {r["id"]: (r["latitude"], r["longitude"]) for r in rows}


async def addresses_of(person_ids: list[int]) -> dict[int, str]:
    """The registered address of each person, by id: for the field worklist a nurse takes
    to the village (ltc.desk.field). Callers have checked the people are theirs."""
    rows = await Person.select(Person.id, Person.address).where(db.ids_in(Person.id, person_ids))
    return {row["id"]: row["address"] for row in rows}
