"""What other parts of LTC read of registered people, as typed values; no other context reads
the person table. Scoped by the actor's region unless the caller is the system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ltc.identity import Actor, in_region
from ltc.people.tables import Person


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str
    resident_id: str
    region_path: str
    insurance_number: str | None
    deceased_on: date | None


_COLUMNS = (Person.id, Person.name, Person.resident_id, Person.region_path,
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
