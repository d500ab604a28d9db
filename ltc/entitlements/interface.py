"""What other parts of LTC may read of decisions and entitlements (typed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ltc import db, documents
from ltc.entitlements.rules import EntitlementState
from ltc.entitlements.tables import Decision, Entitlement, Suspension
from ltc.identity import Actor, in_region
from ltc.people.service import matching

# Where the hashes of generated decision letters are recorded (`ltc evidence verify`).
DOCUMENTS = (documents.Source("核定通知书", Decision.letter_sha256, Decision.number),)


@dataclass(frozen=True)
class DecisionSummary:
    id: int
    number: str
    decided_on: date
    grade: int
    eligible: bool
    letter_sha256: str | None


@dataclass(frozen=True)
class EntitlementSummary:
    id: int
    state: str
    grade: int
    starts_on: date
    expires_on: date
    ends_on: date | None


async def decisions_of(person_id: int) -> list[DecisionSummary]:
    rows = await Decision.select(Decision.id, Decision.number, Decision.decided_on,
                                 Decision.grade, Decision.eligible, Decision.letter_sha256
                                 ).where(Decision.person == person_id).order_by(Decision.id)
    return [DecisionSummary(**row) for row in rows]


async def entitlements_of(person_id: int) -> list[EntitlementSummary]:
    rows = await Entitlement.select(Entitlement.id, Entitlement.state, Entitlement.grade,
                                    Entitlement.starts_on, Entitlement.expires_on,
                                    Entitlement.ends_on).where(
        Entitlement.person == person_id).order_by(Entitlement.id)
    return [EntitlementSummary(**row) for row in rows]


@dataclass(frozen=True)
class EntitledPerson:
    person_id: int
    name: str
    resident_id: str
    village_name: str
    grade: int


async def has_running_entitlement(person_id: int) -> bool:
    """An entitlement not yet ended (active or suspended)."""
    return await Entitlement.exists().where(
        (Entitlement.person == person_id) & (Entitlement.state != str(EntitlementState.ENDED)))


async def entitled_people(actor: Actor, q: str = "", person_id: int | None = None,
                          limit: int = 20) -> list[EntitledPerson]:
    """People in the actor's region with a running entitlement, matching the search box
    (name, pinyin initials, ID, phone) or one person by id."""
    condition = matching(q, name=Entitlement.person.name,
                         initials=Entitlement.person.name_initials,
                         resident_id=Entitlement.person.resident_id,
                         phone=Entitlement.person.phone)
    if person_id is not None:
        condition = Entitlement.person == person_id
    if condition is None:
        return []
    rows = await Entitlement.select(
        Entitlement.person, Entitlement.person.name, Entitlement.person.resident_id,
        Entitlement.person.village.name, Entitlement.grade).where(
        condition & (Entitlement.state != str(EntitlementState.ENDED))
        & in_region(actor, Entitlement.person.region_path)).order_by(
        Entitlement.person).limit(limit)
    people = {row["person"]: EntitledPerson(
        person_id=row["person"], name=row["person.name"], resident_id=row["person.resident_id"],
        village_name=row["person.village.name"], grade=row["grade"]) for row in rows}
    return list(people.values())


async def current_entitlements_of(person_ids: list[int]) -> dict[int, EntitlementSummary]:
    """Each person's newest entitlement (ended or not), by person id."""
    found: dict[int, EntitlementSummary] = {}
    for start in range(0, len(person_ids), 2000):
        rows = await Entitlement.select(
            Entitlement.id, Entitlement.person, Entitlement.state, Entitlement.grade,
            Entitlement.starts_on, Entitlement.expires_on, Entitlement.ends_on).where(
            db.ids_in(Entitlement.person, person_ids[start:start + 2000])).order_by(Entitlement.id)
        for row in rows:
            person = row.pop("person")
            found[person] = EntitlementSummary(**row)  # newest last wins
    return found


@dataclass(frozen=True)
class CaseOutcome:
    """The decision on one application and the entitlement it gave, if any."""

    decision: DecisionSummary
    entitlement: EntitlementSummary | None


async def outcome_of_application(application_id: int) -> CaseOutcome | None:
    """The decision on the application (at most one), or None while undecided."""
    row = await Decision.select(Decision.id, Decision.number, Decision.decided_on,
                                Decision.grade, Decision.eligible, Decision.letter_sha256
                                ).where(Decision.application == application_id).first()
    if row is None:
        return None
    held = await Entitlement.select(
        Entitlement.id, Entitlement.state, Entitlement.grade, Entitlement.starts_on,
        Entitlement.expires_on, Entitlement.ends_on).where(
        Entitlement.decision == row["id"]).first()
    return CaseOutcome(DecisionSummary(**row), EntitlementSummary(**held) if held else None)


@dataclass(frozen=True)
class SuspensionSummary:
    """A clerk's suspension (hospital stays suspend too, but are the enrolment context's)."""

    reason: str
    starts_on: date
    resumes_on: date | None  # None while it lasts


@dataclass(frozen=True)
class EntitlementDetail:
    """The person's newest entitlement, why it ended and its suspensions, oldest first."""

    entitlement: EntitlementSummary
    end_reason: str  # "" while not ended; else a key of rules.END_REASONS
    suspensions: tuple[SuspensionSummary, ...]


async def newest_entitlement_detail(person_id: int) -> EntitlementDetail | None:
    """Callers have checked the person is in scope."""
    row = await Entitlement.select(
        Entitlement.id, Entitlement.state, Entitlement.grade, Entitlement.starts_on,
        Entitlement.expires_on, Entitlement.ends_on, Entitlement.end_reason).where(
        Entitlement.person == person_id).order_by(Entitlement.id, ascending=False).first()
    if row is None:
        return None
    end_reason = row.pop("end_reason")
    suspensions = await Suspension.select(
        Suspension.reason, Suspension.starts_on, Suspension.resumes_on).where(
        Suspension.entitlement == row["id"]).order_by(Suspension.starts_on).order_by(
        Suspension.id)
    return EntitlementDetail(EntitlementSummary(**row), end_reason,
                             tuple(SuspensionSummary(**s) for s in suspensions))
