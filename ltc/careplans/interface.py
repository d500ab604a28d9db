"""What other parts of LTC may read of care plans (typed; no other context reads the plan
tables)."""

from __future__ import annotations

from ltc.careplans.rules import PlanState
from ltc.careplans.tables import CarePlan


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
