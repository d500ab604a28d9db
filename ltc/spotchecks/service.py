"""Spot checks of concluded assessments (抽查, 医保发〔2023〕29号).

Each month, per pooling region, the scheduler (or `ltc spotcheck draw`) draws a sample of the
assessments concluded in the previous month by the pure, replayable rule of
ltc.spotchecks.rules: the policy rate rounded up, at least one per assessment organisation.
Drawing a month twice returns the first draw (one row per region and month).

An assessment expert who took no part in the assessment records 符合 or 不符合 with notes
(`record_finding`; who may: `may_review`). 不符合 opens a new case for the person at once:
an application accepted ex officio (origin `spotcheck`) with two assessors drawn from other
organisations, none of whom took part. Its conclusion goes the normal way — reviewer,
notice, decision and letter — and only that decision changes the person's grade or
entitlement; the spot check itself changes nothing else.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.applications.regrading import open_ex_officio
from ltc.assessments import interface as assessments
from ltc.assessments.assignment import assign_assessors
from ltc.assessments.standing_aside import why_stand_aside
from ltc.audit import service as audit
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, ActorKind, Role, region_covers, require_role
from ltc.policy.service import policy_in_force
from ltc.regions import interface as regions
from ltc.spotchecks import queries, rules
from ltc.spotchecks.rules import Finding, SpotCheckState
from ltc.spotchecks.tables import SpotCheck, SpotCheckDraw
from ltc.staff import interface as staff

DRAW_ROLES = frozenset({Role.reviewer, Role.admin})
ORIGIN_SPOTCHECK = "spotcheck"


def parse_month(text: str, field: str = "month") -> date:
    """`YYYY-MM` → the month's first day; InvalidInput naming `field` otherwise."""
    try:
        year, month = (int(part) for part in (text or "").strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise InvalidInput("invalid_month", "月份格式有误",
                           {field: "请按“年-月”填写月份，如 2026-11"}) from None


def _month_window(month: date) -> tuple[datetime, datetime]:
    """The month in civil (China) time, as [start, end) instants."""
    return (datetime.combine(month, time(0), clock.CHINA),
            datetime.combine(clock.next_month(month), time(0), clock.CHINA))


# --- drawing ----------------------------------------------------------------------------------

async def draw_month(actor: Actor, region_code: str, month: date,
                     seed: str | None = None) -> dict[str, Any]:
    """The region's sample of `month` (an ended month), drawn now or — sent again — the one
    drawn before. The rate is the policy's on the month's last day."""
    require_role(actor, DRAW_ROLES, "抽取评估抽查样本")
    place = await regions.pooling_region(actor, region_code)
    if month >= clock.month_first(clock.today()):
        raise Conflict("month_not_ended", f"{clock.month_label(month)}尚未结束，"
                       "只能抽取已结束月份的评估结论")
    key = f"{place.path}@{month:%Y-%m}"
    existing = await SpotCheckDraw.select().where(SpotCheckDraw.key == key).first()
    if existing:
        return existing
    rate = (await policy_in_force(place.path, clock.month_last(month))).policy \
        .spotcheck_basis_points
    records = {r.id: r for r in await assessments.concluded_between(
        place.path, *_month_window(month))}
    candidates = [rules.Candidate(r.id, tuple(sorted(set(r.organisation_ids))))
                  for r in records.values()]
    seed = seed or secrets.token_hex(16)
    chosen = rules.draw(candidates, seed, rate)
    record = rules.draw_record(candidates, seed, rate, chosen)
    async with db.write_transaction():
        inserted = await SpotCheckDraw.insert(SpotCheckDraw(
            key=key, region_path=place.path, month=month, rate_basis_points=rate, seed=seed,
            algorithm=rules.ALGORITHM, record=json.dumps(record),
            drawn_by=actor.id if actor.kind == ActorKind.user else None,
        )).on_conflict(action="DO NOTHING").returning(SpotCheckDraw.id)
        if not inserted:  # drawn at the same moment by another scheduler or operator
            return await SpotCheckDraw.select().where(SpotCheckDraw.key == key).first()
        draw_id = inserted[0]["id"]
        for assessment_id in chosen:
            drawn = records[assessment_id]
            first, second = drawn.organisation_ids
            await SpotCheck(draw=draw_id, assessment=assessment_id,
                            region_path=drawn.region_path,
                            month=month, organisation_1=first, organisation_2=second,
                            state=str(SpotCheckState.PENDING)).save()
        await audit.record(actor, "spotcheck.drawn", "spot_check_draw", draw_id, after={
            "region": place.code, "month": f"{month:%Y-%m}", "rate_basis_points": rate,
            "seed": seed, "candidates": len(candidates), "chosen": chosen})
    return await SpotCheckDraw.select().where(SpotCheckDraw.id == draw_id).first()


async def draw_previous_month(today: date) -> list[str]:
    """The scheduled run: last month's sample in every pooling region; what was done, for
    the log (a region without a policy is named with the reason, the others still run)."""
    month = clock.previous_month(clock.month_first(today))
    return await regions.in_every_pooling_region(
        lambda code: draw_month(SYSTEM, code, month))


@dataclass(frozen=True)
class Replay:
    stored: list[int]
    replayed: list[int]
    checks: list[int]  # the assessments with a spot-check row of this draw

    @property
    def matches(self) -> bool:
        return self.stored == self.replayed and sorted(self.stored) == sorted(self.checks)


async def replay_month(actor: Actor, region_code: str, month: date) -> Replay:
    """Re-run the stored draw from its seed and candidates, and compare with what it chose
    and with the spot checks it created."""
    require_role(actor, DRAW_ROLES, "复核抽查样本")
    place = await regions.pooling_region(actor, region_code)
    row = await SpotCheckDraw.select().where(
        SpotCheckDraw.key == f"{place.path}@{month:%Y-%m}").first()
    if row is None:
        raise NotFound("spotcheck_draw_not_found",
                       f"{place.name}{clock.month_label(month)}尚未抽取抽查样本")
    record = json.loads(row["record"])
    checks = await SpotCheck.select(SpotCheck.assessment).where(SpotCheck.draw == row["id"])
    return Replay(record["chosen"], rules.replay(record), [c["assessment"] for c in checks])


# --- the expert's finding ---------------------------------------------------------------------

async def may_review(actor: Actor, record: assessments.ConcludedRecord, on: date
                     ) -> str | None:
    """Why `actor` may not record the spot check of `record` on day `on`, or None when they
    may: an assessor signed in as themselves whose 评估专家 qualification is valid on `on`
    (29号), whose region covers the assessment's, who took no part in it (neither
    assessor, nor a confirming expert, nor one who withdrew, nor the reviewer), and who need
    not stand aside from the person (ltc.assessments.standing_aside)."""
    if actor.kind != ActorKind.user or actor.role != Role.assessor or actor.id is None:
        return "只有评估专家可以记录抽查结论"
    if not await staff.is_valid_expert(actor.id, on):
        return f"您在{on.isoformat()}不具备有效的评估专家资质，不能记录抽查结论"
    if actor.region_path and not region_covers(actor.region_path, record.region_path):
        return "该评估不在您的管辖范围内"
    took_part = set(record.participants) | set(
        (await assessments.participants_of(record.id)).user_ids)
    if actor.id in took_part:
        return "您参与了该评估（评估、专家确认或审核），不能抽查本人参与的评估"
    me = (await accounts.assessors_by_id([actor.id])).get(actor.id)
    # The person's own reasons (a declared conflict, their care provider's staff) hold here
    # as in the draw; the case's were checked above (took part).
    return await why_stand_aside(actor.id, me.organisation_id if me else None,
                                 record.person_id, {})


async def _load(actor: Actor, check_id: int) -> tuple[dict[str, Any],
                                                        assessments.ConcludedRecord]:
    """The spot check (with its names, queries.COLUMNS), if in the actor's region, and its
    assessment's record."""
    check = await queries.check_row(check_id)
    if check is None or (actor.region_path
                         and not region_covers(actor.region_path, check["region_path"])):
        raise NotFound("spotcheck_not_found", f"抽查 {check_id} 不存在或不在您的管辖范围内")
    record = await assessments.concluded_record(check["assessment"])
    if record is None:  # a concluded assessment stays concluded; this is a broken row
        raise Conflict("assessment_not_concluded", "被抽查的评估不是已确认的结论")
    return check, record


async def expert_list(actor: Actor) -> list[dict[str, Any]]:
    """queries.expert_queue without the waiting checks this expert may not record after all
    (may_review: e.g. they confirmed the assessment as an expert, or must stand aside):
    the list offers only what opens."""
    today = clock.today()
    return [row for row in await queries.expert_queue(actor)
            if row["state"] != SpotCheckState.PENDING
            or await _may_take(actor, row["assessment"], today)]


async def waiting_count(actor: Actor) -> int:
    """How many waiting checks expert_list offers, without reading the recorded ones: one
    query when none waits (the usual case), the may_review checks only for those that do."""
    today = clock.today()
    return sum([await _may_take(actor, a, today)
                for a in await queries.waiting_assessments(actor)])


async def _may_take(actor: Actor, assessment_id: int, today: date) -> bool:
    record = await assessments.concluded_record(assessment_id)
    return record is not None and await may_review(actor, record, today) is None


async def record_finding(actor: Actor, check_id: int, expected_version: int, *,
                         finding: str, notes: str) -> dict[str, Any]:
    """PENDING → RECORDED with 符合 / 不符合 and notes; 不符合 raises the new assessment
    (module docstring) in the same transaction."""
    require_role(actor, frozenset({Role.assessor}), "记录抽查结论")
    async with db.write_transaction():
        check, record = await _load(actor, check_id)
        refusal = await may_review(actor, record, clock.today())
        if refusal:
            raise Forbidden("spotcheck_not_allowed", refusal)
        if check["state"] != SpotCheckState.PENDING:
            raise Conflict("wrong_state", "该抽查已记录结论，不能重复记录")
        if check["version"] != expected_version:
            raise db.StaleWrite(SpotCheck._meta.tablename, check_id)
        problems = rules.finding_problems(finding, notes or "")
        if problems:
            raise InvalidInput("invalid_spotcheck", "抽查结论有误，请按提示修改", problems)
        application = None
        if finding == Finding.nonconform:
            application = await _new_assessment(actor, check, record, notes.strip())
        changed = await db.update_versioned(SpotCheck, check_id, expected_version, {
            SpotCheck.state: str(SpotCheckState.RECORDED), SpotCheck.finding: finding,
            SpotCheck.notes: notes.strip(), SpotCheck.expert: actor.id,
            SpotCheck.recorded_at: clock.now(),
            SpotCheck.application: application["id"] if application else None})
        await audit.record(actor, f"spotcheck.{finding}", "assessment", record.id, after={
            "spot_check": check_id, "month": f"{check['month']:%Y-%m}", "finding": finding,
            "application": application["number"] if application else None},
            note=notes.strip() or None)
    return changed


async def _new_assessment(actor: Actor, check: dict[str, Any],
                          record: assessments.ConcludedRecord, notes: str) -> dict[str, Any]:
    """不符合: an application accepted ex officio and two assessors drawn at once, leaving
    out everyone who took part, the expert, and the first assessment's organisations."""
    month = clock.month_label(check["month"])
    application = await open_ex_officio(
        actor, person_id=record.person_id, origin=ORIGIN_SPOTCHECK,
        reason=f"{month}抽查评估结论（{record.application_number}）不符合：{notes}",
        action="spotcheck_raised", after={"assessment": record.id, "spot_check": check["id"]},
        when_open="请待该案件办结后再记录本次抽查结论")
    if application["state"] == "ACCEPTED":
        # The system draws (clerks draw otherwise): the rule leaves nobody a choice here.
        await assign_assessors(
            SYSTEM, application["id"], application["version"],
            exclude=sorted(record.participants | {actor.id}
                           | set((await assessments.participants_of(record.id)).user_ids)),
            exclude_organisations=sorted(set(record.organisation_ids)))
    return application


async def get_check(actor: Actor, check_id: int) -> tuple[dict[str, Any],
                                                          assessments.ConcludedRecord]:
    """A spot check with its assessment's record, for the bureau (reviewers, admins of the
    region) and for an expert who may record it, or who recorded it."""
    row, record = await _load(actor, check_id)
    if actor.role in queries.READ_ROLES:
        return row, record
    if row["state"] == SpotCheckState.PENDING:
        refusal = await may_review(actor, record, clock.today())
        if refusal is None:
            return row, record
        raise Forbidden("spotcheck_not_allowed", refusal)
    if actor.id is not None and row["expert"] == actor.id:
        return row, record
    raise Forbidden("spotcheck_not_allowed", "该抽查已由其他评估专家记录")
