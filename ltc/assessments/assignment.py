"""Assigning an accepted application to two assessors drawn at random (SPEC §3, §12 29号).

Eligible: active users with the assessor role whose organisation is an active assessment
organisation covering the person's region and has an assessment agreement covering the day of
the draw (nobody is assigned without an agreement in force: ltc.agreements.rules.covers, asked
of all organisations at once in the candidate query), and whose staff record (ltc.staff, 实名制)
is an 评估员 or 评估专家, 在职, with a certificate valid on the day: an expired certificate, or
no record, keeps an assessor out of every draw. At least one of the two is a 评估专家. Left
out (回避): the staff of the person's current care provider and the assessors who declared a
conflict with the person. The draw itself is the pure function in ltc.assessments.draw; its
seed, full candidate list and exclusions with their reasons are stored in Assessment.draw so
an auditor can replay it with draw.replay().
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from piccolo.query.functions.aggregate import Count

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.agreements.rules import AgreementKind
from ltc.agreements.service import covered_organisations
from ltc.applications import service as applications
from ltc.applications.rules import ApplicationState
from ltc.assessments.draw import (
    Candidate,
    NoExpert,
    NotEnoughCandidates,
    draw,
    draw_record,
    exclusion_summary,
)
from ltc.assessments.rules import AssessmentState
from ltc.assessments.standing_aside import conflicted_with
from ltc.assessments.tables import Assessment
from ltc.audit import service as audit
from ltc.careplans import interface as careplans
from ltc.errors import Conflict
from ltc.identity import Actor, Role, region_covers, require_role
from ltc.staff import interface as staff

ASSIGN_ROLES = frozenset({Role.clerk})
# An assessor's open work: assigned, on site, sent back, or waiting for the reviewer.
OPEN_ASSESSMENT_STATES = (AssessmentState.ASSIGNED, AssessmentState.IN_PROGRESS,
                          AssessmentState.RETURNED, AssessmentState.SUBMITTED)


async def eligible_assessors(region_path: str, *, on: date) -> list[Candidate]:
    """Every assessor who may be drawn on day `on` for a person living at `region_path`
    (active, of an active assessment organisation covering it whose agreement covers `on`),
    with a staff record certified on `on`), with their open workload and whether they are a
    valid expert on `on`, by user id."""
    users = [u for u in await accounts.active_assessors(
        covered_organisations(str(AgreementKind.assessment), on))
        if region_covers(u.organisation_region_path, region_path)]
    standings = await staff.standings_of(u.id for u in users)
    users = [u for u in users
             if staff.refusal(standings.get(u.id), staff.ASSESSING, on) is None]
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
                      organisation=u.organisation_name, workload=workload[u.id],
                      expert=standings[u.id].is_expert_on(on))
            for u in users]


async def _exclusions(candidates: list[Candidate], exclude: Iterable[int] | Mapping[int, str],
                      exclude_organisations: Iterable[int], person_id: int | None
                      ) -> dict[int, list[str]]:
    """Who is left out and why (reason codes of draw.EXCLUSION_REASONS), by user id. Plain
    ids in `exclude` took part in the first assessment."""
    reasons: dict[int, list[str]] = {}
    given = exclude.items() if isinstance(exclude, Mapping) else (
        (user_id, "took_part") for user_id in exclude)
    for user_id, code in given:
        reasons.setdefault(user_id, []).append(code)
    organisations = set(exclude_organisations)
    providers = await careplans.current_providers(person_id) if person_id else set()
    conflicted = await conflicted_with(person_id) if person_id else set()
    for c in candidates:
        for code, applies in (("excluded_organisation", c.organisation_id in organisations),
                              ("care_provider", c.organisation_id in providers),
                              ("conflict", c.user_id in conflicted)):
            if applies:
                reasons.setdefault(c.user_id, []).append(code)
    return reasons


def _excluded_words(exclusions: dict[int, list[str]]) -> str:
    return f"已排除：{exclusion_summary(exclusions)}" if exclusions else ""


async def _shortfall(region_path: str, on: date, candidates: list[Candidate],
                     exclusions: dict[int, list[str]], available: int, seats: int
                     ) -> Conflict:
    """Why too few can be drawn, in words that say what to do: which exclusions applied, who
    is left out by the staff register (certificate expired, no record …), and when assessors
    are left out only because their organisation has no assessment agreement covering `on`,
    say so."""
    drawable = {c.user_id for c in candidates} | set(exclusions)
    others = [u for u in await accounts.active_assessors()
              if region_covers(u.organisation_region_path, region_path)
              and u.id not in drawable]
    standings = await staff.standings_of(u.id for u in others)
    refusals = {u.id: staff.refusal(standings.get(u.id), staff.ASSESSING, on, u.display_name)
                for u in others}
    uncovered = [u for u in others if refusals[u.id] is None]
    excluded = _excluded_words(exclusions)
    message = (f"本地区可抽取的评估员只有{available}名，至少需要{seats}名（同一人不能抽中两次"
               + (f"；{excluded}" if excluded else "") + "）")
    if refused := [r for r in refusals.values() if r is not None]:
        message += (f"。另有{len(refused)}名评估人员按服务人员实名登记不能抽取："
                    + "；".join(r.message for r in refused))
    if uncovered:
        names = "、".join(dict.fromkeys(u.organisation_name for u in uncovered))
        message += (f"。另有{len(uncovered)}名评估员因所在评估机构（{names}）在"
                    f"{on.isoformat()}没有生效的评估协议而不能抽取：请先在协议管理中与该机构"
                    "签订、续签或恢复评估协议，再分派")
    else:
        message += "。请联系定点评估机构增加在岗评估员，或由管理员启用其他评估机构后再分派"
    return Conflict("not_enough_assessors", message)


def _no_expert(on: date, exclusions: dict[int, list[str]]) -> Conflict:
    return Conflict(
        "no_expert_available",
        f"本地区可抽取的评估人员中没有在{on.isoformat()}证书有效的评估专家"
        + (f"（{_excluded_words(exclusions)}）" if exclusions else "")
        + "：每次评估至少需要一名评估专家在场。请由管理员在用户管理中核对评估专家的资质和"
        "证书有效期，或联系定点评估机构安排评估专家后再分派")


async def draw_assessors(
    region_path: str, *, on: date, seed: str | None = None,
    exclude: Iterable[int] | Mapping[int, str] = (),
    exclude_organisations: Iterable[int] = (), person_id: int | None = None,
    seats: int = 2, need_expert: bool = True,
) -> tuple[tuple[int, ...], dict[str, Any]]:
    """Draw `seats` different assessors on day `on`, the first a valid expert when
    `need_expert`; returns them and the record to store. Left out: `exclude` (plain ids took
    part in the first assessment; a mapping gives each its reason code), the assessors of
    `exclude_organisations`, and for `person_id` its care provider's and those who declared
    a conflict. Too few → Conflict `not_enough_assessors`; no valid expert → Conflict
    `no_expert_available` (both say which exclusions applied)."""
    seed = seed or secrets.token_hex(16)
    candidates = await eligible_assessors(region_path, on=on)
    exclusions = await _exclusions(candidates, exclude, exclude_organisations, person_id)
    try:
        chosen = draw(candidates, seed, exclusions, seats=seats, need_expert=need_expert)
    except NotEnoughCandidates as exc:
        raise await _shortfall(region_path, on, candidates, exclusions, exc.available,
                               seats) from exc
    except NoExpert as exc:
        raise _no_expert(on, exclusions) from exc
    # Which organisations had to stand aside, so the auditor need not infer it from users.
    organisations = sorted(set(exclude_organisations))
    return chosen, {**draw_record(candidates, seed, exclusions, chosen,
                                  need_expert=need_expert),
                    **({"exclude_organisations": organisations} if organisations else {}),
                    "agreements_on": on.isoformat(), "drawn_at": clock.now().isoformat()}


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
            person_id=row["person"], exclude_organisations=exclude_organisations)
        assessment = Assessment(
            application=application_id, region_path=row["region_path"], kind="initial",
            state=str(AssessmentState.ASSIGNED), assessor_1=first, assessor_2=second,
            draw=json.dumps({**record, "application": application_id}, ensure_ascii=False),
        )
        await assessment.save()
        await audit.record(actor, "assessment.assigned", "assessment", assessment.id, after={
            "application": application_id, "assessor_1": first, "assessor_2": second,
            "seed": record["seed"], "candidates": len(record["candidates"]),
            "exclude": record["exclude"], "exclusions": record["exclusions"]})
        await applications.write_transition(
            actor, row, expected_version, ApplicationState.ASSIGNED, "application.assigned",
            after={"assessment": assessment.id, "assessors": [first, second]})
    return await Assessment.select().where(Assessment.id == assessment.id).first()

