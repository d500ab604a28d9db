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
