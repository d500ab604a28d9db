"""What other parts of LTC may read of assessments (typed; no other context reads the
assessment tables)."""

from __future__ import annotations

from ltc.assessments.tables import Assessment


async def assessment_ids_of(application_ids: list[int]) -> list[int]:
    """The assessments (first and re-assessments) of these applications."""
    if not application_ids:
        return []
    rows = await Assessment.select(Assessment.id).where(
        Assessment.application.is_in(application_ids)).order_by(Assessment.id)
    return [row["id"] for row in rows]
