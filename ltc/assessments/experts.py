"""专家确认 (SPEC §12, 29号): a conclusion is confirmed by at least two assessment experts
before the reviewer concludes it.

The experts who went on site and signed count (valid on the on-site day); when fewer than two
did, further experts who did not go confirm from the record and the video: an active assessor
whose 评估专家 qualification is valid today and whose organisation's region covers the
assessment's, not one of its two assessors, and nobody who must stand aside from the person or
the case (ltc.assessments.standing_aside: declared conflicts, the care provider's staff, the
people and organisation of the assessment a re-assessment or spot check re-checks). An
expert who disagrees does not confirm; they tell the reviewer, who returns the assessment
with the reason (a return voids the confirmations given so far, since the scores may change).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.assessments.rules import AssessmentState, is_assessor_of
from ltc.assessments.standing_aside import why_stand_aside
from ltc.assessments.tables import Assessment, ExpertConfirmation
from ltc.audit import service as audit
from ltc.errors import Conflict, Forbidden, NotFound
from ltc.identity import Actor, ActorKind, Role, region_covers
from ltc.staff import interface as staff

EXPERTS_NEEDED = 2  # 29号: the conclusion is confirmed by at least two assessment experts


def onsite_day(row: dict[str, Any]) -> date:
    """The civil day of the visit (today, if not recorded yet): an on-site expert's
    qualification must be valid that day."""
    started = row["onsite_started_at"]
    return started.astimezone(clock.CHINA).date() if started else clock.today()


@dataclass(frozen=True)
class ExpertStatus:
    onsite: tuple[str, ...]  # names of the experts who signed on site
    confirmations: tuple[dict[str, Any], ...]  # expert, name, note, confirmed_at
    missing: int  # expert confirmations still needed

    @property
    def summary(self) -> str:
        return (f"现场签名的评估专家{len(self.onsite)}名，专家确认{len(self.confirmations)}名"
                + (f"，还需{self.missing}名评估专家确认" if self.missing else "，已满足"))


async def expert_status(row: dict[str, Any]) -> ExpertStatus:
    signed = [user_id for user_id, at in ((row["assessor_1"], row["signed_1_at"]),
                                          (row["assessor_2"], row["signed_2_at"])) if at]
    standings = await staff.standings_of(signed)
    day = onsite_day(row)
    onsite = tuple(standings[u].name for u in signed
                   if u in standings and standings[u].is_expert_on(day))
    confirmations = tuple(await ExpertConfirmation.select(
        ExpertConfirmation.expert, ExpertConfirmation.expert.display_name.as_alias("name"),
        ExpertConfirmation.note, ExpertConfirmation.confirmed_at,
    ).where((ExpertConfirmation.assessment == row["id"])
            & ExpertConfirmation.voided_at.is_null()).order_by(ExpertConfirmation.id))
    return ExpertStatus(onsite, confirmations,
                        max(0, EXPERTS_NEEDED - len(onsite) - len(confirmations)))


async def require_confirmed(row: dict[str, Any]) -> None:
    """The reviewer's conclude waits for two experts."""
    status = await expert_status(row)
    if status.missing:
        raise Conflict("expert_confirmation_missing",
                       f"评估结论须经至少两名评估专家确认后才能审核确认：{status.summary}。"
                       "请等待未到场的评估专家在“专家确认”中确认")


async def _expert(actor: Actor) -> accounts.Assessor | None:
    """The actor as an assessor whose expert qualification is valid today, else None."""
    if actor.kind != ActorKind.user or actor.role != Role.assessor or actor.id is None:
        return None
    me = (await accounts.assessors_by_id([actor.id])).get(actor.id)
    if me is None or not await staff.is_valid_expert(actor.id, clock.today()):
        return None
    return me


async def may_confirm(actor: Actor, row: dict[str, Any]) -> bool:
    """An expert in scope for this assessment's confirmation (see the module docstring) who
    need not stand aside from the person or the case (ltc.assessments.standing_aside)."""
    if actor.id is None or is_assessor_of(actor.id, row):
        return False
    me = await _expert(actor)
    return (me is not None and region_covers(me.organisation_region_path, row["region_path"])
            and await why_stand_aside(actor.id, me.organisation_id, await _person_of(row),
                                      _draw_of(row)) is None)


def _draw_of(row: dict[str, Any]) -> dict[str, Any]:
    """The stored draw record (pages hold it decoded already)."""
    draw = row["draw"]
    return draw if isinstance(draw, dict) else json.loads(draw)


async def _person_of(row: dict[str, Any]) -> int:
    """The assessed person's id, from whichever shape of assessment row the caller holds."""
    for key in ("application.person", "application.person.id"):
        if key in row:
            return row[key]
    found = await Assessment.select(Assessment.application.person).where(
        Assessment.id == row["id"]).first()
    return found["application.person"]


async def may_view_to_confirm(actor: Actor, row: dict[str, Any]) -> bool:
    """An expert in scope sees a submitted assessment's record and videos to confirm it."""
    return row["state"] == AssessmentState.SUBMITTED and await may_confirm(actor, row)


_ROW_COLUMNS = (Assessment.all_columns(), Assessment.application.number,
                Assessment.application.person, Assessment.application.person.name)


async def assessment_row(assessment_id: int) -> dict[str, Any] | None:
    return await Assessment.select(*_ROW_COLUMNS).where(Assessment.id == assessment_id).first()


async def confirmation_queue(actor: Actor) -> list[dict[str, Any]]:
    """Submitted assessments this expert may confirm that still need an expert, and that
    they have not confirmed yet, oldest first."""
    if actor.role != Role.assessor:
        raise Forbidden("wrong_role", "只有评估专家可以进行专家确认")
    me = await _expert(actor)
    if me is None:
        return []
    scope = me.organisation_region_path
    rows = await Assessment.select(*_ROW_COLUMNS).where(
            (Assessment.state == str(AssessmentState.SUBMITTED))
            & ((Assessment.region_path == scope) | Assessment.region_path.like(scope + "/%"))
            & (Assessment.assessor_1 != actor.id) & (Assessment.assessor_2 != actor.id)
            ).order_by(Assessment.submitted_at)
    queue = []
    for row in rows:
        status = await expert_status(row)
        if (status.missing and all(c["expert"] != actor.id for c in status.confirmations)
                and await may_confirm(actor, row)):
            queue.append({**row, "status": status})
    return queue


async def confirm(actor: Actor, assessment_id: int, *, expected_version: int,
                  note: str = "") -> dict[str, Any]:
    """专家确认 by an expert who was not on site. Sent twice by the same expert: the first
    one stands and nothing changes."""
    row = await assessment_row(assessment_id)
    if row is None or not await may_confirm(actor, row):
        raise NotFound("assessment_not_found",
                       f"评估 {assessment_id} 不存在或不在您的专家确认范围内")
    status = await expert_status(row)
    if any(c["expert"] == actor.id for c in status.confirmations):
        return row
    if row["state"] != AssessmentState.SUBMITTED:
        raise Conflict("wrong_state", f"评估当前状态为“{AssessmentState(row['state']).label}”，"
                       "只有待审核的评估需要专家确认")
    if not status.missing:
        raise Conflict("expert_confirmation_complete",
                       f"该评估已满足两名评估专家确认：{status.summary}")
    async with db.write_transaction():
        after = await db.update_versioned(Assessment, assessment_id, expected_version, {})
        await ExpertConfirmation(assessment=assessment_id, expert=actor.id,
                                 note=note.strip(), confirmed_at=clock.now()).save()
        await audit.record(actor, "assessment.expert_confirmed", "assessment", assessment_id,
                           note=note.strip(), after={"expert": actor.id})
    return after


async def void_confirmations(assessment_id: int) -> None:
    """A return to the assessors: the confirmations were of scores that may now change."""
    await ExpertConfirmation.update({ExpertConfirmation.voided_at: clock.now()}).where(
        (ExpertConfirmation.assessment == assessment_id)
        & ExpertConfirmation.voided_at.is_null())
