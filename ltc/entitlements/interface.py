"""What other parts of LTC may read of decisions and entitlements (typed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ltc import db
from ltc.entitlements.tables import Decision, Entitlement


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
