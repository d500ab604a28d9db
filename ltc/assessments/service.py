"""Use cases of an on-site assessment: draft, sign, submit (assessors); conclude or return
(reviewer). One function per transition, each one transaction with its audit event."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ltc import clock, db
from ltc.assessments import bundled, experts, grading, rulesets
from ltc.assessments.rules import (
    EDITABLE,
    AssessmentState,
    GradeConcluded,
    clean_guardian,
    coverage_problem,
    guardian_missing,
    is_assessor_of,
)
from ltc.assessments.tables import Assessment, Ruleset
from ltc.audit import service as audit
from ltc.decision_events import interface as events
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.evidence import interface as evidence
from ltc.identity import Actor, Role, in_region, region_covers
from ltc.notices import service as notices
from ltc.phones import mask_phone
from ltc.policy.service import policy_in_force

OPEN_STATES = (AssessmentState.ASSIGNED, AssessmentState.IN_PROGRESS, AssessmentState.RETURNED,
               AssessmentState.SUBMITTED)


def _may_see(actor: Actor, row: dict[str, Any]) -> bool:
    if actor.role == Role.assessor:
        return is_assessor_of(actor.id, row)
    if actor.role in (Role.clerk, Role.reviewer):
        return actor.region_path is None or region_covers(actor.region_path, row["region_path"])
    return False


async def get_assessment(actor: Actor, assessment_id: int) -> dict[str, Any]:
    """The assessment with its person and application, if the actor may see it. Unassigned
    assessors and out-of-region staff get NotFound: they must not learn it exists."""
    row = await (
        Assessment.select(
            Assessment.all_columns(),
            Assessment.application.number, Assessment.application.state,
            Assessment.application.person.id, Assessment.application.person.name,
            Assessment.application.person.resident_id, Assessment.application.person.sex,
            Assessment.application.person.birth_date, Assessment.application.person.address,
            Assessment.assessor_1.display_name, Assessment.assessor_2.display_name,
            Assessment.reviewed_by.display_name, Assessment.ruleset.code,
            Assessment.ruleset.version,
        )
        .where(Assessment.id == assessment_id)
        .first()
    )
    if row is None or not (_may_see(actor, row) or await experts.may_view_to_confirm(actor, row)):
        raise NotFound("assessment_not_found", f"评估 {assessment_id} 不存在或不在您的权限范围内")
    row["scores"] = json.loads(row["scores"])
    row["result"] = json.loads(row["result"])
    row["draw"] = json.loads(row["draw"])
    return row


# The assessor's own to-do filters of their list (ltc.desk.queues counts the same rows).
MINE_FILTERS = {
    "ASSIGNED": ("待评估（未提交）", (AssessmentState.ASSIGNED, AssessmentState.IN_PROGRESS)),
    "RETURNED": ("被审核退回", (AssessmentState.RETURNED,)),
}


async def my_assignments(actor: Actor, todo: str = "") -> list[dict[str, Any]]:
    """An assessor's open assessments (or those of one MINE_FILTERS entry), oldest first:
    the order they should visit in."""
    if actor.role != Role.assessor:
        raise Forbidden("wrong_role", "只有评估员有评估任务")
    return await (
        Assessment.select(
            Assessment.id, Assessment.state, Assessment.created_at, Assessment.return_reason,
            Assessment.application, Assessment.application.number,
            Assessment.application.person.name,
            Assessment.application.person.address,
        )
        .where(_mine(actor, todo))
        .order_by(Assessment.created_at)
    )


def _mine(actor: Actor, todo: str):
    return (((Assessment.assessor_1 == actor.id) | (Assessment.assessor_2 == actor.id))
            & Assessment.state.is_in([str(s) for s in (
                MINE_FILTERS[todo][1] if todo in MINE_FILTERS else OPEN_STATES)]))


async def count_assignments(actor: Actor, todo: str = "") -> int:
    """How many my_assignments(actor, todo) lists."""
    if actor.role != Role.assessor:
        raise Forbidden("wrong_role", "只有评估员有评估任务")
    return await Assessment.count().where(_mine(actor, todo))


def _to_review(actor: Actor):
    return ((Assessment.state == AssessmentState.SUBMITTED)
            & in_region(actor, Assessment.region_path))


async def review_queue(actor: Actor) -> list[dict[str, Any]]:
    """Submitted assessments in the reviewer's region, oldest first."""
    return await (
        Assessment.select(
            Assessment.id, Assessment.submitted_at, Assessment.result,
            Assessment.application, Assessment.application.number,
            Assessment.application.person.name,
            Assessment.assessor_1.display_name, Assessment.assessor_2.display_name,
        )
        .where(_to_review(actor))
        .order_by(Assessment.submitted_at)
    )


async def review_queue_count(actor: Actor) -> int:
    """How many review_queue(actor) lists."""
    return await Assessment.count().where(_to_review(actor))


async def _editable_by(actor: Actor, assessment_id: int) -> dict[str, Any]:
    row = await get_assessment(actor, assessment_id)
    if not is_assessor_of(actor.id, row) or actor.role != Role.assessor:
        raise Forbidden("not_assessor", "只有分派到本次评估的两位评估员可以录入、签名和提交")
    if AssessmentState(row["state"]) not in EDITABLE:
        raise Conflict("assessment_not_editable",
                       f"评估当前状态为“{AssessmentState(row['state']).label}”，不能再修改")
    return row


def _aware(value: datetime | None, field: str, fields: dict[str, str]) -> datetime | None:
    if value is not None and value.tzinfo is None:
        fields[field] = "时间必须带时区"
    return value


async def save_draft(
    actor: Actor,
    assessment_id: int,
    *,
    expected_version: int,
    scores: dict[str, Any],
    onsite_started_at: datetime | None = None,
    onsite_ended_at: datetime | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    guardian_name: str = "",
    guardian_relationship: str = "",
    guardian_phone: str = "",
) -> dict[str, Any]:
    """Save what has been recorded so far. Changing any score voids both signatures: a
    signature attests to the scores as they were when signed. Safe to send again: when the
    version is stale only because this very draft was saved already (an answer lost on
    the way back, a device re-sending what waited offline), it answers the stored row and
    changes nothing."""
    row = await _editable_by(actor, assessment_id)
    instrument = bundled.load_instrument()
    fields = grading.score_problems(scores, instrument, complete=False)
    guardian = clean_guardian(guardian_name, guardian_relationship, guardian_phone, fields)
    _aware(onsite_started_at, "onsite_started_at", fields)
    _aware(onsite_ended_at, "onsite_ended_at", fields)
    if onsite_started_at and onsite_ended_at and onsite_ended_at <= onsite_started_at:
        fields["onsite_ended_at"] = "离开时间必须晚于到达时间"
    if onsite_started_at and onsite_started_at > clock.now():
        fields["onsite_started_at"] = "到达时间不能晚于现在"
    if latitude is not None and not -90 <= latitude <= 90:
        fields["latitude"] = "纬度应在 -90 到 90 之间"
    if longitude is not None and not -180 <= longitude <= 180:
        fields["longitude"] = "经度应在 -180 到 180 之间"
    if fields:
        raise InvalidInput("invalid_assessment", "评估内容有误，请按提示修改", fields)
    clean = {code: int(value) for code, value in scores.items()}
    changes: dict[Any, Any] = {
        Assessment.scores: json.dumps(clean, sort_keys=True),
        Assessment.onsite_started_at: onsite_started_at,
        Assessment.onsite_ended_at: onsite_ended_at,
        Assessment.latitude: latitude,
        Assessment.longitude: longitude,
        Assessment.guardian_name: guardian[0],
        Assessment.guardian_relationship: guardian[1],
        Assessment.guardian_phone: guardian[2],
        Assessment.state: str(AssessmentState.IN_PROGRESS),
    }
    if row["version"] != expected_version and all(
            row[column._meta.name] == value for column, value in changes.items()
            if column is not Assessment.scores) and clean == row["scores"]:
        return row
    if clean != row["scores"]:
        changes[Assessment.signed_1_at] = None
        changes[Assessment.signed_2_at] = None
    async with db.write_transaction():
        after = await db.update_versioned(Assessment, assessment_id, expected_version, changes)
        # The phone is masked in the audit log, which many more people read than this form.
        await audit.record(actor, "assessment.draft_saved", "assessment", assessment_id,
                           before={"scores": row["scores"]},
                           after={"scores": clean, "guardian": [
                               guardian[0], guardian[1], mask_phone(guardian[2])]})
    return after


async def sign(actor: Actor, assessment_id: int, *, expected_version: int) -> dict[str, Any]:
    """Each assessor signs with their own account, once the scores are complete."""
    row = await _editable_by(actor, assessment_id)
    problems = grading.score_problems(row["scores"], bundled.load_instrument(), complete=True)
    if problems:
        raise InvalidInput("scores_incomplete", "17项评分全部录入后才能签名", problems)
    column = Assessment.signed_1_at if row["assessor_1"] == actor.id else Assessment.signed_2_at
    async with db.write_transaction():
        after = await db.update_versioned(
            Assessment, assessment_id, expected_version,
            {column: clock.now(), Assessment.state: str(AssessmentState.IN_PROGRESS)})
        await audit.record(actor, "assessment.signed", "assessment", assessment_id)
    return after


async def submission_problems(row: dict[str, Any]) -> dict[str, str]:
    """Everything still missing before the assessment can be submitted, all at once."""
    problems = grading.score_problems(row["scores"], bundled.load_instrument(), complete=True)
    problems |= guardian_missing(row["guardian_name"], row["guardian_relationship"],
                                 row["guardian_phone"])
    started, ended = row["onsite_started_at"], row["onsite_ended_at"]
    if started is None or ended is None:
        problems["onsite"] = "请填写到达和离开时间"
    videos = await evidence.video_totals(row["id"])
    if not videos.count:
        problems["evidence"] = "请至少上传一段评估全过程的视频"
    elif started is not None and ended is not None:
        policy = (await policy_in_force(row["region_path"], clock.today())).policy
        if short := coverage_problem(videos.seconds, videos.unknown,
                                     (ended - started).total_seconds(),
                                     policy.min_video_coverage_percent):
            problems["evidence"] = short
    if row["signed_1_at"] is None:
        problems["signed_1"] = f"评估员 {row['assessor_1.display_name']} 尚未签名"
    if row["signed_2_at"] is None:
        problems["signed_2"] = f"评估员 {row['assessor_2.display_name']} 尚未签名"
    return problems


async def submit(actor: Actor, assessment_id: int, *, expected_version: int) -> dict[str, Any]:
    row = await _editable_by(actor, assessment_id)
    if problems := await submission_problems(row):
        raise InvalidInput("assessment_incomplete", "评估还不能提交，请先补齐以下内容", problems)
    async with db.write_transaction():
        after = await db.update_versioned(
            Assessment, assessment_id, expected_version,
            {Assessment.state: str(AssessmentState.SUBMITTED),
             Assessment.submitted_at: clock.now(), Assessment.return_reason: ""})
        await audit.record(actor, "assessment.submitted", "assessment", assessment_id,
                           after={"scores": row["scores"]})
    return after


async def ruleset_for(region_path: str, on: datetime) -> dict[str, Any]:
    """The ruleset in force for a region: the newest activated version, effective by `on`, of
    the most specific region covering it; the national one (no region) otherwise."""
    rows = await (
        Ruleset.select(Ruleset.all_columns(), Ruleset.region.path)
        .where((Ruleset.effective_from <= on.astimezone(clock.CHINA).date())
               & (Ruleset.state == "ACTIVE"))
        .order_by(Ruleset.effective_from, ascending=False)
        .order_by(Ruleset.version, ascending=False)
    )
    regional = [r for r in rows if r["region.path"] and region_covers(r["region.path"],
                                                                        region_path)]
    candidates = sorted(regional, key=lambda r: len(r["region.path"]), reverse=True) or [
        r for r in rows if r["region.path"] is None]
    if not candidates:
        raise Conflict("no_ruleset", "没有可用的评估等级规则，请联系系统管理员加载规则")
    return candidates[0]


async def _reviewable_by(actor: Actor, assessment_id: int) -> dict[str, Any]:
    if actor.role != Role.reviewer:
        raise Forbidden("wrong_role", "只有审核员可以审核评估结论")
    row = await get_assessment(actor, assessment_id)
    if row["state"] != AssessmentState.SUBMITTED:
        raise Conflict("wrong_state",
                       f"评估当前状态为“{AssessmentState(row['state']).label}”，只有待审核的评估可以审核")
    return row


async def conclude(actor: Actor, assessment_id: int, *, expected_version: int) -> dict[str, Any]:
    """The reviewer confirms, once two experts have (ltc.assessments.team): the grade is
    computed by the ruleset in force and fixed."""
    row = await _reviewable_by(actor, assessment_id)
    await experts.require_confirmed(row)
    now = clock.now()
    ruleset_row = await ruleset_for(row["region_path"], now)
    result = grading.grade(row["scores"], rulesets.of_row(ruleset_row))
    async with db.write_transaction():
        after = await db.update_versioned(
            Assessment, assessment_id, expected_version,
            {Assessment.state: str(AssessmentState.CONCLUDED), Assessment.concluded_at: now,
             Assessment.reviewed_by: actor.id, Assessment.ruleset: ruleset_row["id"],
             Assessment.result: json.dumps(result.as_dict(), ensure_ascii=False),
             Assessment.grade: result.grade})
        await audit.record(actor, "assessment.concluded", "assessment", assessment_id,
                           after={"grade": result.grade, "grade_label": result.grade_label,
                                  "ruleset": result.ruleset})
        # Before the decision a re-assessment's conclusion may make at once: a partner reads
        # the grade, then what it did to the entitlement, in sequence order.
        await events.emit(events.EventType.grade_concluded,
                          await events.person_subject(row["application.person.id"]),
                          GradeConcluded(
                              assessment_id=assessment_id,
                              application_number=row["application.number"], kind=row["kind"],
                              grade=result.grade, grade_label=result.grade_label,
                              ruleset=result.ruleset,
                              concluded_on=now.astimezone(clock.CHINA).date()).as_data(),
                          occurred_at=now)
        await notices.after_conclusion(actor, after, clock.today())
    return after


async def return_to_assessors(actor: Actor, assessment_id: int, *, expected_version: int,
                              reason: str) -> dict[str, Any]:
    if not reason.strip():
        raise InvalidInput("reason_required", "退回时必须填写原因，告诉评估员需要补正什么",
                           {"reason": "请填写退回原因"})
    await _reviewable_by(actor, assessment_id)
    async with db.write_transaction():
        after = await db.update_versioned(
            Assessment, assessment_id, expected_version,
            {Assessment.state: str(AssessmentState.RETURNED),
             Assessment.return_reason: reason.strip(),
             Assessment.signed_1_at: None, Assessment.signed_2_at: None})
        await experts.void_confirmations(assessment_id)
        await audit.record(actor, "assessment.returned", "assessment", assessment_id,
                           note=reason.strip())
    return after


async def application_assessments(application_id: int) -> list[dict[str, Any]]:
    return await (
        Assessment.select(Assessment.id, Assessment.kind, Assessment.state,
                          Assessment.grade, Assessment.due_on,
                          Assessment.assessor_1.display_name, Assessment.assessor_2.display_name,
                          Assessment.created_at, Assessment.concluded_at)
        .where(Assessment.application == application_id)
        .order_by(Assessment.id)
    )


