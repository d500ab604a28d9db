"""What other parts of LTC may ask of spot checks."""

from __future__ import annotations

from ltc import clock
from ltc.assessments import interface as assessments
from ltc.identity import Actor
from ltc.spotchecks.rules import SpotCheckState
from ltc.spotchecks.service import may_review
from ltc.spotchecks.tables import SpotCheck


async def expert_may_view(actor: Actor, assessment_id: int) -> bool:
    """The assessment's record and video are open to an expert who may spot-check it
    while the check waits, and to the expert who recorded it."""
    if actor.id is None:
        return False
    check = await SpotCheck.select(SpotCheck.state, SpotCheck.expert).where(
        SpotCheck.assessment == assessment_id).first()
    if check is None:
        return False
    if check["state"] != SpotCheckState.PENDING:
        return check["expert"] == actor.id
    record = await assessments.concluded_record(assessment_id)
    return record is not None and await may_review(actor, record, clock.today()) is None
