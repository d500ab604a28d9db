"""What other parts of LTC may read of care plans (typed; no other context reads the plan
tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ltc.careplans.rules import PlanState
from ltc.careplans.tables import CarePlan


@dataclass(frozen=True)
class PlanRef:
    """A care plan version in force, as a provider's exit hands its clients over."""

    id: int
    entitlement: int
    person: int
    person_name: str
    region_path: str
    care_form: str
    provider: int | None
    starts_on: date


async def current_providers(person_id: int) -> set[int]:
    """The care providers (organisation ids) of the person's plans in force: their staff and
    assessors withdraw from assessing the person (回避)."""
    rows = await CarePlan.select(CarePlan.provider).where(
        (CarePlan.person == person_id) & (CarePlan.state == str(PlanState.ACTIVE))
        & CarePlan.provider.is_not_null())
    return {row["provider"] for row in rows}


async def household_pin(person_id: int, provider_id: int) -> tuple[str, str | None]:
    """For visit logging: whether the person is the provider's beneficiary (not_served,
    served, or in_force: served by the plan in force today), and the hash of the
    household's current confirmation PIN (None while none has been issued or not in force)."""
    from ltc.careplans.letters import current_pin_hash

    return await current_pin_hash(person_id, provider_id)


async def pin_matches(pin: str, encoded: str) -> bool:
    """Whether `pin` is the household PIN hashed as `encoded` (checked in a worker thread:
    scrypt is deliberately slow)."""
    from ltc.careplans.letters import pin_matches as matches

    return await matches(pin, encoded)


def _in_force_of(provider_id: int):
    return (CarePlan.provider == provider_id) & (CarePlan.state == str(PlanState.ACTIVE))


async def plans_in_force_of(provider_id: int) -> list[PlanRef]:
    """The provider's clients: the current (ACTIVE) plan versions that name it, by person."""
    rows = await CarePlan.select(
        CarePlan.id, CarePlan.entitlement, CarePlan.person,
        CarePlan.person.name.as_alias("person_name"), CarePlan.region_path,
        CarePlan.care_form, CarePlan.provider, CarePlan.starts_on,
    ).where(_in_force_of(provider_id)).order_by(CarePlan.region_path).order_by(CarePlan.id)
    return [PlanRef(**row) for row in rows]


async def client_counts(provider_ids: list[int]) -> dict[int, int]:
    """How many current plans name each provider (0 for none)."""
    counts = dict.fromkeys(provider_ids, 0)
    if provider_ids:
        rows = await CarePlan.select(CarePlan.provider).where(
            CarePlan.provider.is_in(provider_ids) & (CarePlan.state == str(PlanState.ACTIVE)))
        for row in rows:
            counts[row["provider"]] += 1
    return counts

