"""Cancelling assessments that can no longer happen (the person died): a transition other
contexts trigger inside their own transaction, so it imports nothing but this context."""

from __future__ import annotations

from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment
from ltc.audit import service as audit
from ltc.identity import Actor

_OPEN_STATES = [str(s) for s in (AssessmentState.ASSIGNED, AssessmentState.IN_PROGRESS,
                                 AssessmentState.SUBMITTED, AssessmentState.RETURNED)]


async def cancel_open_of_application(actor: Actor, application_id: int, note: str) -> int:
    """Cancel the application's unfinished assessments (the person died), inside the
    caller's transaction; each audited. Returns how many."""
    assessments = await Assessment.select(Assessment.id, Assessment.state).where(
        (Assessment.application == application_id) & Assessment.state.is_in(_OPEN_STATES))
    for assessment in assessments:
        await Assessment.update({Assessment.state: str(AssessmentState.CANCELLED),
                                 Assessment.version: Assessment.version + 1}).where(
            Assessment.id == assessment["id"])
        await audit.record(actor, "assessment.cancelled", "assessment", assessment["id"],
                           before={"state": assessment["state"]},
                           after={"state": str(AssessmentState.CANCELLED)}, note=note)
    return len(assessments)
