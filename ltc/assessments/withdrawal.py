"""回避 (SPEC §12, 29号): an assigned assessor with a family or interest relation to the person
withdraws (申请回避, with the reason). The conflict is recorded for the person (every later draw
for them leaves the assessor out) and a replacement is drawn at once for their seat, an expert
when the remaining assessor is not one (whoever the first draw left out because of the case —
on a re-assessment or after a spot check, the earlier assessment's organisation and
participants — is still left out). Both signatures are voided: the new team goes on
site.
"""

from __future__ import annotations

import json
from typing import Any

from ltc import clock, db
from ltc.assessments.assignment import draw_assessors
from ltc.assessments.experts import assessment_row
from ltc.assessments.rules import EDITABLE, AssessmentState, is_assessor_of
from ltc.assessments.standing_aside import case_exclusions
from ltc.assessments.tables import Assessment, AssessorConflict
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, Role
from ltc.staff import interface as staff


async def withdraw(actor: Actor, assessment_id: int, *, expected_version: int,
                   reason: str) -> dict[str, Any]:
    """申请回避: the assessor leaves the case, the conflict is recorded for the person, and a
    replacement is drawn for the seat (see the module docstring)."""
    row = await assessment_row(assessment_id)
    if (row is None or actor.role != Role.assessor or actor.id is None
            or not is_assessor_of(actor.id, row)):
        raise NotFound("assessment_not_found", f"评估 {assessment_id} 不存在或不在您的权限范围内")
    if not reason.strip():
        raise InvalidInput("reason_required", "申请回避时必须填写原因",
                           {"withdraw_reason": "请填写回避原因（如亲属关系、利害关系）"})
    if AssessmentState(row["state"]) not in EDITABLE:
        label = AssessmentState(row["state"]).label
        raise Conflict("assessment_not_editable", f"评估当前状态为“{label}”，已提交的评估"
                       "不能再申请回避，请联系审核员退回")
    seat, other = ((Assessment.assessor_1, row["assessor_2"]) if row["assessor_1"] == actor.id
                   else (Assessment.assessor_2, row["assessor_1"]))
    person = (await Assessment.select(Assessment.application.person).where(
        Assessment.id == assessment_id).first())["application.person"]
    # What the first draw left out because of the case (a re-assessment after an objection or
    # a spot check: the earlier assessment's people and organisation) still stands aside.
    case = case_exclusions(json.loads(row["draw"]))
    exclude: dict[int, str] = dict.fromkeys(case.user_ids, "took_part")
    organisations = sorted(case.organisation_ids)
    exclude[other] = "on_case"
    today = clock.today()
    async with db.write_transaction():
        await AssessorConflict(assessor=actor.id, person=person, reason=reason.strip(),
                               assessment=assessment_id, declared_by=actor.id,
                               declared_at=clock.now()).save()
        (replacement,), record = await draw_assessors(
            row["region_path"], on=today, exclude=exclude, exclude_organisations=organisations,
            person_id=person, seats=1,
            need_expert=not await staff.is_valid_expert(other, today))
        drawn = json.loads(row["draw"])
        drawn.setdefault("replacements", []).append(
            {**record, "withdrawn": actor.id, "seat": seat._meta.name})
        after = await db.update_versioned(Assessment, assessment_id, expected_version, {
            seat: replacement, Assessment.signed_1_at: None, Assessment.signed_2_at: None,
            Assessment.draw: json.dumps(drawn, ensure_ascii=False)})
        await audit.record(actor, "assessment.withdrawn", "assessment", assessment_id,
                           note=reason.strip(), after={
                               "withdrawn": actor.id, "replacement": replacement,
                               "seed": record["seed"], "exclusions": record["exclusions"]})
    return after
