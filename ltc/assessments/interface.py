"""What other parts of LTC may read of assessments (typed; no other context reads the
assessment tables)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from piccolo.query import Select

from ltc import clock
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment


async def assessment_ids_of(application_ids: list[int]) -> list[int]:
    """The assessments (first and re-assessments) of these applications."""
    if not application_ids:
        return []
    rows = await Assessment.select(Assessment.id).where(
        Assessment.application.is_in(application_ids)).order_by(Assessment.id)
    return [row["id"] for row in rows]


def applications_assigned_to(user_id: int) -> Select:
    """A sub-select of the applications an assessor is assigned to (either seat)."""
    return Assessment.select(Assessment.application).where(
        (Assessment.assessor_1 == user_id) | (Assessment.assessor_2 == user_id))


async def last_conclusion_on(person_id: int, *, other_than_application: int) -> date | None:
    """The civil date of the person's latest concluded assessment on another application."""
    row = await (
        Assessment.select(Assessment.concluded_at)
        .where((Assessment.application.person == person_id)
               & (Assessment.application != other_than_application)
               & (Assessment.state == str(AssessmentState.CONCLUDED))
               & Assessment.concluded_at.is_not_null())
        .order_by(Assessment.concluded_at, ascending=False)
        .first()
    )
    if row is None:
        return None
    concluded: datetime = row["concluded_at"]
    if concluded.tzinfo is None:
        concluded = concluded.replace(tzinfo=UTC)
    return concluded.astimezone(clock.CHINA).date()
