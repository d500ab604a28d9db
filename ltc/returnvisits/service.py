"""Return-visit sampling (回访抽样).

Each month, per pooling region, the scheduler (or a clerk, or `ltc returnvisit draw`) draws
from every provider's home visits of the previous month that stand accepted in review a
sample to call back, by the pure, replayable rule of ltc.returnvisits.rules: the policy rate
rounded up, at least the policy minimum per provider. Drawing a month twice returns the
first draw (one row per region and month).

A clerk of the region opens the call — the person's phone is shown then, and that read is
audited — and records the result: confirmed, denied or unreachable, with satisfaction 1–5
when the family was reached and a note. A denial sends the visit back to the reviewer with
the flag 回访否认 (ltc.visits.review.raise_concern): it stops counting as paid work, and a
month already paid is adjusted in the next batch. The first clerk's result stands; a second
one recorded at the same time is refused (409).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, ActorKind, Role, region_covers, require_role
from ltc.phones import mask_phone
from ltc.policy.service import policy_in_force
from ltc.regions import interface as regions
from ltc.returnvisits import queries, rules
from ltc.returnvisits.rules import CallState, Outcome
from ltc.returnvisits.tables import ReturnVisit, ReturnVisitDraw
from ltc.visits import interface as visits
from ltc.visits.review import raise_concern
from ltc.visits.rules import FlagCode

DRAW_ROLES = frozenset({Role.clerk, Role.admin})
CALL_ROLES = frozenset({Role.clerk})
ALREADY_RECORDED = "该回访已由{name}记录结果（{outcome}），同一次回访只记录一个结果，请刷新后查看"


async def regions_of(actor: Actor) -> list[regions.Place]:
    """The pooling regions an actor may draw for."""
    return [p for p in await regions.at_level("pooling")
            if not actor.region_path or region_covers(actor.region_path, p.path)]


# --- drawing ----------------------------------------------------------------------------------

async def draw_month(actor: Actor, region_code: str, month: date,
                     seed: str | None = None) -> dict[str, Any]:
    """The region's sample of `month` (an ended month), drawn now or — sent again — the one
    drawn before. Rate and minimum are the policy's on the month's last day."""
    require_role(actor, DRAW_ROLES, "抽取回访样本")
    place = await regions.pooling_region(actor, region_code)
    if month >= clock.month_first(clock.today()):
        raise Conflict("month_not_ended", f"{clock.month_label(month)}尚未结束，"
                       "只能抽取已结束月份的上门服务记录", {"month": "请选择已结束的月份"})
    key = f"{place.path}@{month:%Y-%m}"
    existing = await ReturnVisitDraw.select().where(ReturnVisitDraw.key == key).first()
    if existing:
        return existing
    policy = (await policy_in_force(place.path, clock.month_last(month))).policy
    rate, minimum = policy.returnvisit_basis_points, policy.returnvisit_minimum
    found = {v.id: v for v in await visits.accepted_home_visits(
        place.path, *clock.month_bounds(month))}
    candidates = [rules.Candidate(v.id, v.provider_id) for v in found.values()]
    seed = seed or secrets.token_hex(16)
    chosen = rules.draw(candidates, seed, rate, minimum)
    record = rules.draw_record(candidates, seed, rate, minimum, chosen)
    async with db.write_transaction():
        inserted = await ReturnVisitDraw.insert(ReturnVisitDraw(
            key=key, region_path=place.path, month=month, rate_basis_points=rate,
            minimum=minimum, seed=seed, algorithm=rules.ALGORITHM, record=json.dumps(record),
            drawn_by=actor.id if actor.kind == ActorKind.user else None,
        )).on_conflict(action="DO NOTHING").returning(ReturnVisitDraw.id)
        if not inserted:  # drawn at the same moment by another scheduler or clerk
            return await ReturnVisitDraw.select().where(ReturnVisitDraw.key == key).first()
        draw_id = inserted[0]["id"]
        for visit_id in chosen:
            drawn = found[visit_id]
            await ReturnVisit(draw=draw_id, visit=visit_id, person=drawn.person_id,
                              provider=drawn.provider_id, region_path=drawn.region_path,
                              month=month, state=str(CallState.PENDING)).save()
        await audit.record(actor, "returnvisit.drawn", "return_visit_draw", draw_id, after={
            "region": place.code, "month": f"{month:%Y-%m}", "rate_basis_points": rate,
            "minimum": minimum, "seed": seed, "candidates": len(candidates),
            "chosen": chosen})
    return await ReturnVisitDraw.select().where(ReturnVisitDraw.id == draw_id).first()


async def draw_previous_month(today: date) -> list[str]:
    """The scheduled run: last month's sample in every pooling region; what was done, for
    the log (a region refused is named with the reason, the others still run)."""
    month = clock.previous_month(clock.month_first(today))
    return await regions.in_every_pooling_region(
        lambda code: draw_month(SYSTEM, code, month))


@dataclass(frozen=True)
class Replay:
    stored: list[int]
    replayed: list[int]
    calls: list[int]  # the visits with a return-visit row of this draw

    @property
    def matches(self) -> bool:
        return self.stored == self.replayed and sorted(self.stored) == sorted(self.calls)


async def replay_month(actor: Actor, region_code: str, month: date) -> Replay:
    """Re-run the stored draw from its seed and candidates, and compare with what it chose
    and with the return visits it created."""
    require_role(actor, DRAW_ROLES, "复核回访样本")
    place = await regions.pooling_region(actor, region_code)
    row = await ReturnVisitDraw.select().where(
        ReturnVisitDraw.key == f"{place.path}@{month:%Y-%m}").first()
    if row is None:
        raise NotFound("returnvisit_draw_not_found",
                       f"{place.name}{clock.month_label(month)}尚未抽取回访样本")
    record = json.loads(row["record"])
    calls = await ReturnVisit.select(ReturnVisit.visit).where(ReturnVisit.draw == row["id"])
    return Replay(record["chosen"], rules.replay(record), [c["visit"] for c in calls])


# --- the call ---------------------------------------------------------------------------------

async def get_call(actor: Actor, call_id: int, *, open_phone: bool = False
                   ) -> dict[str, Any]:
    """One sampled visit with its script (话术). The phone is masked unless `open_phone`:
    the clerk opens the call, and that read of personal data is audited."""
    require_role(actor, CALL_ROLES | DRAW_ROLES, "查看回访")
    row = await queries.call_row(call_id)
    if row is None or (actor.region_path
                       and not region_covers(actor.region_path, row["region_path"])):
        raise NotFound("returnvisit_not_found", f"回访 {call_id} 不存在或不在您的管辖范围内")
    (row["item_labels"],) = await visits.item_labels([row["items"]])
    row["script"] = rules.call_script(
        person=row["person_name"], provider=row["provider_name"], staff=row["staff_name"],
        visit_on=row["visit_on"], items=row["item_labels"])
    row["phone_masked"] = mask_phone(row["phone"])
    if open_phone:
        async with db.write_transaction():
            await audit.record(actor, "returnvisit.phone_read", "person", row["person"],
                               after={"return_visit": call_id, "visit": row["visit"]},
                               note="回访拨打电话，查看完整号码")
    else:
        row["phone"] = row["phone_masked"]
    return row


async def record_result(actor: Actor, call_id: int, expected_version: int, *, outcome: str,
                        satisfaction: str, note: str) -> dict[str, Any]:
    """PENDING → RECORDED with the call's result. The state is compared and set in one
    UPDATE, so of two clerks recording the same call at once only one result is stored;
    the other is refused with who recorded it. A denial raises 回访否认 on the visit in the
    same transaction."""
    require_role(actor, CALL_ROLES, "记录回访结果")
    note = (note or "").strip()
    problems = rules.result_problems(outcome, satisfaction, note)
    if problems:
        raise InvalidInput("invalid_returnvisit", "回访结果有误，请按提示修改", problems)
    result = Outcome(outcome)
    score = int(satisfaction) if result.reached else None
    async with db.write_transaction():
        call = await get_call(actor, call_id)
        done = await ReturnVisit.update({
            ReturnVisit.state: str(CallState.RECORDED), ReturnVisit.outcome: str(result),
            ReturnVisit.satisfaction: score, ReturnVisit.note: note,
            ReturnVisit.called_by: actor.id, ReturnVisit.recorded_at: clock.now(),
            ReturnVisit.version: ReturnVisit.version + 1,
        }).where((ReturnVisit.id == call_id)
                 & (ReturnVisit.state == str(CallState.PENDING))
                 & (ReturnVisit.version == expected_version)).returning(ReturnVisit.id)
        if not done:
            raise await _already(call_id)
        if result is Outcome.denied:
            await raise_concern(actor, call["visit"], FlagCode.return_visit_denied,
                                f"电话回访家属否认：{note}")
        await audit.record(actor, f"returnvisit.{result}", "visit", call["visit"], after={
            "return_visit": call_id, "outcome": str(result), "satisfaction": score},
            note=f"{result.label}" + (f"，满意度{score}分" if score else "")
            + (f"：{note}" if note else ""))
    return await queries.call_row(call_id)


async def _already(call_id: int) -> Conflict:
    row = await queries.call_row(call_id)
    if row and row["state"] == CallState.RECORDED:
        return Conflict("returnvisit_recorded", ALREADY_RECORDED.format(
            name=row["called_by_name"] or "其他经办员", outcome=Outcome(row["outcome"]).label))
    return Conflict("returnvisit_changed", "该回访刚被他人更新，请刷新后再记录")
