"""稽核: the nightly run of the patterns across visits (ltc.inspections.rules) and the
reviewer's decision on each finding.

The run of night `day` covers the month of the day before, from its first day to that day:
on the 1st it finishes the month just ended. Each pooling region is read with its own policy
(the version in force on the last day covered). Findings are stored by their stable key: a
new one is added as open; an open one gets the visits and facts found tonight; a decided one
is left as decided. A second run of the same night therefore changes nothing.

Deciding: confirmed (确认违规) rejects every visit of the finding, or the correction that has
replaced it since — a flagged one by the reviewer's decision (ltc.visits.review.review), an
accepted one by an overturn — in the same transaction, so a month already paid is adjusted
in the next batch; cleared (排除) changes no visit. Both need a reason, are audited, and
compare-and-set the finding's state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, Role, in_region, require_role
from ltc.inspections import rules
from ltc.inspections.rules import DECISIONS, Finding, Seen, State, Thresholds
from ltc.inspections.tables import InspectionFinding
from ltc.people import interface as people
from ltc.policy.rules import Policy
from ltc.policy.service import policy_in_force
from ltc.regions import interface as regions
from ltc.visits import interface as visits
from ltc.visits import review as visit_review
from ltc.visits.rules import OVERTURNABLE, Review

DECIDE_ROLES = frozenset({Role.reviewer})
READ_ROLES = frozenset({Role.reviewer, Role.admin})
_STORE_BATCH = 500


def thresholds(policy: Policy) -> Thresholds:
    return Thresholds(
        speed_kmh=policy.inspection_speed_kmh,
        same_spot_metres=policy.inspection_same_spot_metres,
        far_metres=policy.inspection_far_metres,
        far_share_percent=policy.inspection_far_share_percent,
        burst_count=policy.inspection_burst_count,
        burst_minutes=policy.inspection_burst_minutes,
        burst_hours=policy.inspection_burst_hours)


def _seen(v: visits.InspectedVisit, homes: dict[int, tuple[float, float]]) -> Seen:
    checkin = ((v.checkin_latitude, v.checkin_longitude)
               if v.checkin_latitude is not None and v.checkin_longitude is not None else None)
    return Seen(id=v.id, person=v.person, provider=v.provider, staff=v.staff,
                started_at=v.started_at, ended_at=v.ended_at, logged_at=v.logged_at,
                checkin=checkin, home=homes.get(v.person), signature=v.signature_sha256,
                confirmer=v.family_confirmed_by)


@dataclass
class NightRun:
    """What one night's run did, per pooling region and in total."""

    day: date
    visits: int = 0
    found: int = 0  # findings tonight (new, updated or already there)
    added: int = 0
    updated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "visits": self.visits, "found": self.found,
                "added": self.added, "updated": self.updated}


def covered(day: date) -> tuple[date, date]:
    """The days the run of night `day` reads: the month of the day before, up to it."""
    last = day - timedelta(days=1)
    return clock.month_first(last), last


async def run_night(day: date) -> NightRun:
    """The 稽核 run of night `day` over every pooling region (module docstring)."""
    first, last = covered(day)
    run = NightRun(day)
    for region in await regions.pooling_regions():
        try:
            policy = (await policy_in_force(region["path"], last)).policy
        except Conflict:  # no policy in force: no visits can have been paid there either
            continue
        await _run_region(run, region["path"], first, last, thresholds(policy))
    return run


async def _run_region(run: NightRun, path: str, first: date, last: date,
                      limits: Thresholds) -> None:
    homes = await people.homes_under(path)
    found: list[Finding] = []
    async for group in visits.visits_by_staff(path, first, last):
        run.visits += len(group)
        found += rules.per_staff([_seen(v, homes) for v in group], limits)
    found += rules.shared_signature(
        _seen(v, homes) for v in await visits.sharing_signature(path, first, last))
    run.found += len(found)
    for start in range(0, len(found), _STORE_BATCH):
        await _store(run, found[start:start + _STORE_BATCH], path, first)
    if found:
        async with db.write_transaction():
            await audit.record(SYSTEM, "inspection.run", "inspection_region", path,
                               after={**run.as_dict(), "month": f"{first:%Y-%m}"})


async def _store(run: NightRun, found: list[Finding], path: str, month: date) -> None:
    """Add the new findings and refresh the open ones; decided ones stay as they are."""
    async with db.write_transaction():
        existing = {r["key"]: r for r in await InspectionFinding.select(
            InspectionFinding.id, InspectionFinding.key, InspectionFinding.state,
            InspectionFinding.visit_ids, InspectionFinding.details,
        ).where(InspectionFinding.key.is_in([f.key for f in found]))}
        new = []
        for f in found:
            row = existing.get(f.key)
            if row is not None and row["state"] != State.open:
                row, f = await _after_decision(f)
                if f is None:
                    continue
            ids = json.dumps(list(f.visit_ids))
            if row is None:
                new.append(InspectionFinding(
                    key=f.key, rule=str(f.rule), region_path=path, month=month,
                    provider=f.provider, staff=f.staff, visit_ids=ids,
                    visit_count=len(f.visit_ids), details=f.details, state=str(State.open),
                    found_on=run.day, seen_on=run.day))
            elif row["state"] == State.open and (row["visit_ids"], row["details"]) != (
                    ids, f.details):
                await InspectionFinding.update({
                    InspectionFinding.visit_ids: ids,
                    InspectionFinding.visit_count: len(f.visit_ids),
                    InspectionFinding.details: f.details, InspectionFinding.seen_on: run.day,
                    InspectionFinding.version: InspectionFinding.version + 1,
                }).where((InspectionFinding.id == row["id"])
                         & (InspectionFinding.state == str(State.open)))
                run.updated += 1
        for row in new:  # one by one: a concurrent run may have added the same key
            inserted = await InspectionFinding.insert(row).on_conflict(
                action="DO NOTHING").returning(InspectionFinding.id)
            run.added += len(inserted)


async def _after_decision(f: Finding) -> tuple[dict[str, Any] | None, Finding | None]:
    """A pattern whose finding was decided and that goes on: its visits not yet judged in any
    decided finding of the same key make a follow-up finding (key `<key>+<first such visit
    id>`), so a cleared or confirmed pattern never hides what happens after the decision.
    Returns the open follow-up to refresh (or None to add one) and the finding to store under
    its key; (None, None) when every visit was already judged."""
    rows = await InspectionFinding.select(
        InspectionFinding.id, InspectionFinding.key, InspectionFinding.state,
        InspectionFinding.visit_ids, InspectionFinding.details,
    ).where((InspectionFinding.key == f.key) | InspectionFinding.key.like(f"{f.key}+%"))
    judged = {i for r in rows if r["state"] != State.open for i in json.loads(r["visit_ids"])}
    fresh = tuple(i for i in f.visit_ids if i not in judged)
    if not fresh:
        return None, None
    # Only the visits nobody judged yet: confirming the follow-up must not reject visits
    # a reviewer cleared before.
    follow_up = replace(f, visit_ids=fresh, details=(
        f"{f.details}（此前已核实的 {len(f.visit_ids) - len(fresh)} 次服务不再列入）"))
    still_open = next((r for r in rows if r["state"] == State.open), None)
    if still_open is not None:
        return still_open, replace(follow_up, key=still_open["key"])
    return None, replace(follow_up, key=f"{f.key}+{min(fresh)}")


# --- reading ----------------------------------------------------------------------------------

async def finding(actor: Actor, finding_id: int) -> dict[str, Any]:
    require_role(actor, READ_ROLES, "查看稽核发现")
    row = await InspectionFinding.select(
        *InspectionFinding.all_columns(),
        InspectionFinding.provider.name.as_alias("provider_name"),
        InspectionFinding.staff.display_name.as_alias("staff_name"),
        InspectionFinding.decided_by.display_name.as_alias("decided_by_name"),
    ).where((InspectionFinding.id == finding_id)
            & in_region(actor, InspectionFinding.region_path)).first()
    if row is None:
        raise NotFound("finding_not_found", f"稽核发现 {finding_id} 不存在或不在您的管辖范围内")
    return {**row, "visit_ids": json.loads(row["visit_ids"])}


# --- deciding ---------------------------------------------------------------------------------

async def decide(actor: Actor, finding_id: int, expected_version: int, decision: str,
                 reason: str) -> dict[str, Any]:
    """open → confirmed (its standing visits rejected, module docstring) or cleared."""
    require_role(actor, DECIDE_ROLES, "核实稽核发现")
    row = await finding(actor, finding_id)
    if problems := rules.decision_problems(decision, reason):
        raise InvalidInput("invalid_decision", "核实结论不完整，请按提示填写", problems)
    if row["state"] != State.open:
        raise Conflict("already_decided",
                       f"这条稽核发现已{State(row['state']).label}，不能再次核实")
    after, reason = DECISIONS[decision], reason.strip()
    async with db.write_transaction():
        done = await InspectionFinding.update({
            InspectionFinding.state: str(after), InspectionFinding.reason: reason,
            InspectionFinding.decided_by: actor.id, InspectionFinding.decided_at: clock.now(),
            InspectionFinding.version: InspectionFinding.version + 1,
        }).where((InspectionFinding.id == finding_id)
                 & (InspectionFinding.version == expected_version)
                 & (InspectionFinding.state == str(State.open))).returning(InspectionFinding.id)
        if not done:
            raise db.StaleWrite(InspectionFinding._meta.tablename, finding_id)
        rejected = await _reject_visits(actor, row, reason) if after == State.confirmed else []
        action = ("inspection.confirmed" if after == State.confirmed
                  else "inspection.cleared")
        await audit.record(actor, action, "inspection_finding", finding_id,
                           before={"state": str(State.open)},
                           after={"state": str(after), "rejected_visits": rejected},
                           note=reason)
    return await finding(actor, finding_id)


async def _reject_visits(actor: Actor, row: dict[str, Any], reason: str) -> list[int]:
    note = f"稽核确认违规（{rules.Rule(row['rule']).label}）：{reason}"
    rejected = []
    for line in await visits.visit_lines(await visits.standing_ids(row["visit_ids"])):
        if line.review == Review.rejected:
            continue
        if line.review == Review.flagged:
            await visit_review.review(actor, line.id, "reject", note)
        elif line.review in OVERTURNABLE:
            await visit_review.overturn(actor, line.id, note)
        rejected.append(line.id)
    return rejected
