"""What other parts of LTC may read of people (typed; no other context reads person rows)."""

from __future__ import annotations

from dataclasses import dataclass

from ltc import db
from ltc.people.rules import mask_resident_id
from ltc.people.tables import Person


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
