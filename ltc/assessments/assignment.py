"""Assigning an accepted application to two assessors drawn at random (SPEC §3).

Eligible: active users with the assessor role whose organisation is an active assessment
organisation covering the person's region and has an assessment agreement covering the day of
the draw (nobody is assigned without an agreement in force: ltc.agreements.rules.covers, asked
of all organisations at once in the candidate query). The draw itself is the pure function in
ltc.assessments.draw; its seed and full candidate list are stored in Assessment.draw so an
auditor can replay it with draw.replay().
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import date
from typing import Any

from piccolo.query.functions.aggregate import Count

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.agreements.rules import AgreementKind
from ltc.agreements.service import covered_organisations
from ltc.applications import service as applications
from ltc.applications.rules import ApplicationState
from ltc.assessments.draw import Candidate, NotEnoughCandidates, draw, draw_record
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment
from ltc.audit import service as audit
from ltc.errors import Conflict
from ltc.identity import Actor, Role, region_covers, require_role

ASSIGN_ROLES = frozenset({Role.clerk})
# An assessor's open work: assigned, on site, sent back, or waiting for the reviewer.
OPEN_ASSESSMENT_STATES = (AssessmentState.ASSIGNED, AssessmentState.IN_PROGRESS,
                          AssessmentState.RETURNED, AssessmentState.SUBMITTED)


async def eligible_assessors(region_path: str, *, on: date) -> list[Candidate]:
    """Every assessor who may be drawn on day `on` for a person living at `region_path`
    (active, of an active assessment organisation covering it whose agreement covers `on`),
    with their open workload, by user id."""
    users = [u for u in await accounts.active_assessors(
        covered_organisations(str(AgreementKind.assessment), on))
        if region_covers(u.organisation_region_path, region_path)]
    ids = [u.id for u in users]
    workload = dict.fromkeys(ids, 0)
    if ids:
        open_states = [str(s) for s in OPEN_ASSESSMENT_STATES]
        for column in (Assessment.assessor_1, Assessment.assessor_2):
            rows = await Assessment.select(column.as_alias("assessor"), Count()).where(
                column.is_in(ids) & Assessment.state.is_in(open_states)).group_by(column)
            for row in rows:
                workload[row["assessor"]] += row["count"]
    return [Candidate(user_id=u.id, name=u.display_name, organisation_id=u.organisation_id,
                      organisation=u.organisation_name, workload=workload[u.id])
            for u in users]


async def _shortfall(region_path: str, on: date, candidates: list[Candidate],
                     exclude: list[int], available: int,
                     exclude_organisations: list[int]) -> Conflict:
    """Why fewer than two can be drawn, in words that say what to do: when assessors are left
    out only because their organisation has no assessment agreement covering `on`, say so."""
    drawable = {c.user_id for c in candidates} | set(exclude)
    uncovered = [u for u in await accounts.active_assessors()
                 if region_covers(u.organisation_region_path, region_path)
                 and u.id not in drawable]
    message = (f"本地区可抽取的评估员只有{available}名，至少需要2名（同一人不能抽中两次"
               + ("，且已排除上次评估的评估员" if exclude else "")
               + ("，且已排除原评估机构" if exclude_organisations else "") + "）")
    if uncovered:
        names = "、".join(dict.fromkeys(u.organisation_name for u in uncovered))
        message += (f"。另有{len(uncovered)}名评估员因所在评估机构（{names}）在"
                    f"{on.isoformat()}没有生效的评估协议而不能抽取：请先在协议管理中与该机构"
                    "签订、续签或恢复评估协议，再分派")
    else:
        message += "。请联系定点评估机构增加在岗评估员，或由管理员启用其他评估机构后再分派"
    return Conflict("not_enough_assessors", message)


async def draw_assessors(
    region_path: str, *, on: date, seed: str | None = None, exclude: Iterable[int] = (),
    exclude_organisations: Iterable[int] = (),
) -> tuple[tuple[int, int], dict[str, Any]]:
    """Draw two different assessors on day `on`; returns the pair and the record to store.
    `exclude_organisations` leaves out every assessor of those organisations (a new
    assessment after a spot check is made by another organisation). Fewer than two
    eligible → Conflict `not_enough_assessors` (naming the organisations whose missing
    agreement left assessors out)."""
    seed = seed or secrets.token_hex(16)
    exclude = sorted(set(exclude))
    organisations = sorted(set(exclude_organisations))
    eligible = await eligible_assessors(region_path, on=on)
    candidates = [c for c in eligible if c.organisation_id not in organisations]
    try:
        chosen = draw(candidates, seed, exclude)
    except NotEnoughCandidates as exc:
        raise await _shortfall(region_path, on, eligible, exclude, exc.available,
                               organisations) from exc
    record = draw_record(candidates, seed, exclude, chosen)
    if organisations:
        record["exclude_organisations"] = organisations
    return chosen, {**record, "agreements_on": on.isoformat(),
                    "drawn_at": clock.now().isoformat()}


async def assign_assessors(
    actor: Actor, application_id: int, expected_version: int, seed: str | None = None,
    exclude: Iterable[int] = (), exclude_organisations: Iterable[int] = (),
) -> dict[str, Any]:
    """ACCEPTED → ASSIGNED: two assessors drawn, one Assessment (ASSIGNED, initial) created,
    all in one transaction with its audit events. Returns the assessment row."""
    require_role(actor, ASSIGN_ROLES, "分派评估")
    async with db.write_transaction():
        row = await applications.load_visible(actor, application_id)
        applications.check_transition(row, ApplicationState.ASSIGNED, "分派评估",
                                      expected_version)
        # Drawn inside the transaction: on SQLite it serialises with other assignments, so
        # workloads are exact; on PostgreSQL two simultaneous draws may see the same counts.
        (first, second), record = await draw_assessors(
            row["region_path"], on=clock.today(), seed=seed, exclude=exclude,
            exclude_organisations=exclude_organisations)
        assessment = Assessment(
            application=application_id, region_path=row["region_path"], kind="initial",
            state=str(AssessmentState.ASSIGNED), assessor_1=first, assessor_2=second,
            draw=json.dumps({**record, "application": application_id}, ensure_ascii=False),
        )
        await assessment.save()
        await audit.record(actor, "assessment.assigned", "assessment", assessment.id, after={
            "application": application_id, "assessor_1": first, "assessor_2": second,
            "seed": record["seed"], "candidates": len(record["candidates"]),
            "exclude": record["exclude"],
            **({"exclude_organisations": record["exclude_organisations"]}
               if "exclude_organisations" in record else {})})
        await applications.write_transition(
            actor, row, expected_version, ApplicationState.ASSIGNED, "application.assigned",
            after={"assessment": assessment.id, "assessors": [first, second]})
    return await Assessment.select().where(Assessment.id == assessment.id).first()

