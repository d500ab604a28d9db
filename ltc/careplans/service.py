"""Care plans (SPEC §5, issue 5): the care catalogue, and each entitlement's plan in versions.

A provider proposes a plan for its own organisation (PROPOSED) and a clerk confirms it
(ACTIVE) or returns it (REJECTED); a plan a clerk makes is ACTIVE at once (made and confirmed
by the clerk). Confirming a version supersedes the previous one, which stays in force until
the day before the new one starts: history is kept, and `plan_on` answers which version
was in force on any day (visit logging and payouts call it).

Scoping: a clerk works on the plans of their region; a provider sees and proposes only
plans of its own organisation, and never another provider's beneficiary.
"""

from __future__ import annotations

import json
import zlib
from datetime import date, timedelta
from typing import Any

from ltc import clock, db
from ltc.agreements.rules import AgreementKind, AgreementState, Qualification, covers
from ltc.agreements.service import active_agreement
from ltc.agreements.tables import Agreement
from ltc.audit import service as audit
from ltc.careplans import letters
from ltc.careplans.rules import (
    CareForm,
    CatalogueItem,
    PlanConfirmed,
    PlanState,
    arrangement_problems,
    ends_on,
    ordered_items,
    plan_in_force,
    plan_problems,
    plan_visits,
    start_problem,
)
from ltc.careplans.tables import CareItem, CarePlan
from ltc.decision_events import interface as events
from ltc.entitlements.rules import EntitlementFacts, EntitlementState
from ltc.entitlements.tables import Entitlement
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, ActorKind, Role, in_region, of_organisation, require_role
from ltc.organisations import interface as organisations
from ltc.people import interface as people
from ltc.policy import service as policies
from ltc.policy.rules import PolicyError, parse_policy
from ltc.sanctions import interface as sanctions

PLAN_ROLES = frozenset({Role.clerk, Role.provider})
MANAGE_ROLES = frozenset({Role.clerk})
NOTE_MAX = 1000
_LOCK_KEY = zlib.crc32(b"care_plan") & 0x7FFFFFFF  # PostgreSQL: plans of one entitlement


# --- the catalogue -------------------------------------------------------------------------

async def catalogue() -> dict[str, dict[str, Any]]:
    """Every care item by code, in code order: {code: {code, name_zh, name_en, category,
    nurse_only, minutes, in_package}}. `in_package` is only the shipped default; the package
    that applies is the region's policy (`care_required`, `care_optional`)."""
    rows = await CareItem.select().order_by(CareItem.code)
    return {row["code"]: row for row in rows}


def _rules_catalogue(items: dict[str, dict[str, Any]]) -> dict[str, CatalogueItem]:
    return {code: CatalogueItem(code, row["name_zh"], row["nurse_only"])
            for code, row in items.items()}


async def check_policy_fixtures() -> None:
    """At load time, before the policy files are loaded: every care package code in them
    must be a catalogue item. RuntimeError naming the file and the codes otherwise. (A file
    that is not a valid policy is left for ltc.policy.service.load_policies to report.)"""
    for path in sorted(policies.FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            policy = parse_policy(data.get("definition"))
        except PolicyError:
            continue
        problems = await policies.unknown_care_items(policy)
        if problems:
            raise RuntimeError(f"{path.name}: " + "; ".join(
                f"{field}: {message}" for field, message in problems.items()))


# --- agreements ----------------------------------------------------------------------------

async def _has_nurse(provider_id: int, on: date) -> bool:
    """A nurse on the provider's staff: a staff agreement of the provider with qualification
    nurse in force on the day."""
    rows = await Agreement.select().where(
        (Agreement.kind == str(AgreementKind.staff))
        & (Agreement.qualification == str(Qualification.nurse))
        & (Agreement.organisation == provider_id)
        & (Agreement.starts_on <= on) & (Agreement.ends_on >= on))
    return any(covers(row, on) for row in rows)


async def _caregiver_covers(agreement_id: int, person_id: int, on: date) -> bool:
    """The chosen family caregiver agreement is this beneficiary's and in force on the day."""
    row = await Agreement.select().where(
        (Agreement.id == agreement_id) & (Agreement.kind == str(AgreementKind.caregiver))
        & (Agreement.beneficiary == person_id)).first()
    return row is not None and covers(row, on)


# --- reading plans -------------------------------------------------------------------------

def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    if isinstance(row.get("items"), str):
        row["items"] = json.loads(row["items"])
    row["state_label"] = PlanState(row["state"]).label
    row["care_form_label"] = CareForm(row["care_form"]).label
    return row


async def _versions(entitlement_id: int) -> list[dict[str, Any]]:
    return await CarePlan.select(
        CarePlan.all_columns(), CarePlan.provider.name,
        CarePlan.family_caregiver.caregiver_name, CarePlan.family_caregiver.number,
        CarePlan.proposed_by.display_name, CarePlan.confirmed_by.display_name,
    ).where(CarePlan.entitlement == entitlement_id).order_by(CarePlan.plan_no)


def _latest_active(versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((v for v in reversed(versions) if v["state"] == PlanState.ACTIVE), None)


async def plan_on(entitlement_id: int, on: date) -> dict[str, Any] | None:
    """The version of the entitlement's plan in force on `on` (None: no confirmed version
    has started by then), with `items` as a list of codes, `ends_on` (the last day in force,
    None while open-ended), and `required` / `optional`: the package codes of the policy in
    force on the plan's starts_on. Unscoped: for visit logging and payouts."""
    versions = await CarePlan.select().where(CarePlan.entitlement == entitlement_id)
    plan = plan_in_force(versions, on)
    if plan is None:
        return None
    policy = (await policies.policy_in_force(plan["region_path"], plan["starts_on"])).policy
    return plan_result(versions, plan, policy)


def plan_result(versions: list[dict[str, Any]], plan: dict[str, Any],
                policy: Any) -> dict[str, Any]:
    """What `plan_on` answers for `plan` (= plan_in_force(versions, day)), given the policy
    in force on its starts_on in its region. For callers that read the versions and the
    policy versions together with other facts in one statement."""
    result = _decoded(plan)
    result["ends_on"] = ends_on(versions, plan)
    result["required"] = list(policy.care_required)
    result["optional"] = list(policy.care_optional)
    return result


def _plan_scope(actor: Actor) -> Any:
    if actor.role == Role.provider:
        return of_organisation(actor, CarePlan.provider)
    if actor.role == Role.clerk or actor.kind == ActorKind.system:
        return in_region(actor, CarePlan.region_path)
    raise Forbidden("wrong_role", "您的角色不能查看护理计划")


def _plan_not_found(plan_id: int) -> NotFound:
    return NotFound("care_plan_not_found", f"护理计划 {plan_id} 不存在或不在您的管辖范围内")


def _entitlement_not_found(entitlement_id: int) -> NotFound:
    return NotFound("entitlement_not_found",
                    f"待遇资格 {entitlement_id} 不存在或不在您的管辖范围内")


async def plans_of(actor: Actor, entitlement_id: int) -> list[dict[str, Any]]:
    """Every version of the entitlement's plan the actor may see, oldest first, each with
    `ends_on` and `in_force_today`. A provider sees only its own organisation's versions
    (NotFound when it has none); a clerk every version in their region (none yet: [])."""
    versions = await _versions(entitlement_id)
    visible_ids = {r["id"] for r in await CarePlan.select(CarePlan.id).where(
        (CarePlan.entitlement == entitlement_id) & _plan_scope(actor))}
    if not visible_ids and (actor.role == Role.provider or not await Entitlement.exists().where(
            (Entitlement.id == entitlement_id) & in_region(actor, Entitlement.region_path))):
        raise _entitlement_not_found(entitlement_id)
    today_plan = plan_in_force(versions, clock.today())
    result = []
    for version in versions:
        if version["id"] in visible_ids:
            row = _decoded(version)
            row["ends_on"] = ends_on(versions, version)
            row["in_force_today"] = today_plan is not None and today_plan["id"] == version["id"]
            result.append(row)
    return result


_LIST_COLUMNS = (
    CarePlan.id, CarePlan.plan_no, CarePlan.state, CarePlan.care_form, CarePlan.starts_on,
    CarePlan.visits_per_month, CarePlan.entitlement, CarePlan.person, CarePlan.person.name,
    CarePlan.person.resident_id, CarePlan.person.village.name, CarePlan.provider.name,
    CarePlan.entitlement.grade, CarePlan.items,
)


async def list_plans(actor: Actor, *, state: str = "", search: str = "", after_id: int = 0,
                     within: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """A clerk: the plans of their region (all versions, or those in one state). A provider:
    its beneficiaries' current plans (its ACTIVE and PROPOSED versions) unless a state is
    chosen. `search` and `within` (a town's or village's region path) find the person as
    the people search does."""
    query = CarePlan.select(*_LIST_COLUMNS).where(_plan_scope(actor) & (CarePlan.id > after_id))
    if (found := people.person_search(CarePlan.person, search, within)) is not None:
        query = query.where(found)
    if state:
        query = query.where(CarePlan.state == state)
    elif actor.role == Role.provider:
        query = query.where(CarePlan.state.is_in([str(PlanState.ACTIVE),
                                                  str(PlanState.PROPOSED)]))
    rows = await query.order_by(CarePlan.id).limit(limit)
    for i, row in enumerate(rows):
        rows[i] = _decoded(row)
        rows[i]["grade_label"] = GRADE_LABELS[row["entitlement.grade"]]
    return rows


async def waiting_for_clerk(actor: Actor) -> int:
    """Proposed plans in the clerk's region, waiting to be confirmed or returned."""
    return await CarePlan.count().where((CarePlan.state == str(PlanState.PROPOSED))
                                        & in_region(actor, CarePlan.region_path))


async def get_plan(actor: Actor, plan_id: int) -> dict[str, Any]:
    """One version for its page: the items with their catalogue names, the entitlement and
    person, the versions the actor may see, and why it was returned (if it was)."""
    row = await CarePlan.select(
        CarePlan.all_columns(), CarePlan.provider.name, CarePlan.person.name,
        CarePlan.person.resident_id, CarePlan.person.village.name,
        CarePlan.entitlement.grade, CarePlan.entitlement.starts_on,
        CarePlan.entitlement.expires_on, CarePlan.entitlement.ends_on,
        CarePlan.entitlement.state, CarePlan.family_caregiver.caregiver_name,
        CarePlan.family_caregiver.relationship, CarePlan.family_caregiver.number,
        CarePlan.proposed_by.display_name, CarePlan.confirmed_by.display_name,
    ).where((CarePlan.id == plan_id) & _plan_scope(actor)).first()
    if row is None:
        raise _plan_not_found(plan_id)
    plan = _decoded(row)
    items = await catalogue()
    plan["item_rows"] = [items.get(code) or _unknown(code) for code in plan["items"]]
    plan["grade_label"] = GRADE_LABELS[row["entitlement.grade"]]
    policy = (await policies.policy_in_force(row["region_path"], row["starts_on"])).policy
    plan["required"] = set(policy.care_required)
    plan["history"] = await plans_of(actor, row["entitlement"])
    plan["ends_on"] = next((v["ends_on"] for v in plan["history"] if v["id"] == plan_id), None)
    plan["rejection"] = ""
    if row["state"] == PlanState.REJECTED:
        events = await audit.timeline("care_plan", plan_id)
        rejected = [e for e in events if e["action"] == "care_plan.rejected"]
        if rejected:
            plan["rejection"] = str(json.loads(rejected[-1]["summary"]).get("note", ""))
    return plan


# --- the entitlement a plan is for -----------------------------------------------------------

async def _entitlement(actor: Actor, entitlement_id: int) -> dict[str, Any]:
    """The entitlement, if the actor may plan for it: a clerk in their region; a provider in
    its region, unless the beneficiary's latest plan (not returned) is another provider's."""
    row = await Entitlement.select(
        Entitlement.all_columns(), Entitlement.person.name, Entitlement.person.resident_id,
        Entitlement.person.village.name,
    ).where((Entitlement.id == entitlement_id)
            & in_region(actor, Entitlement.region_path)).first()
    if row is None:
        raise _entitlement_not_found(entitlement_id)
    if actor.role == Role.provider:
        latest = await CarePlan.select(CarePlan.provider).where(
            (CarePlan.entitlement == entitlement_id)
            & (CarePlan.state != str(PlanState.REJECTED))
        ).order_by(CarePlan.plan_no, ascending=False).first()
        if latest and latest["provider"] not in (None, actor.organisation_id):
            raise _entitlement_not_found(entitlement_id)
    return row


def _last_day(entitlement: dict[str, Any]) -> date:
    return EntitlementFacts(starts_on=entitlement["starts_on"],
                            expires_on=entitlement["expires_on"],
                            ends_on=entitlement["ends_on"]).last_day


async def _lock(entitlement_id: int) -> None:
    """Serialise changes to one entitlement's plans (SQLite's IMMEDIATE transaction already
    serialises every writer)."""
    if not db.is_sqlite():
        await CarePlan.raw("SELECT pg_advisory_xact_lock({}, {})", _LOCK_KEY,
                           entitlement_id % 2**31)


async def _check(entitlement: dict[str, Any], current: dict[str, Any] | None, *,
                 care_form: str, provider_id: int | None, caregiver_id: int | None,
                 items: list[str], starts_on: date | None,
                 fields: dict[str, str]) -> int:
    """Every problem with a plan, into `fields`; returns its visits per month."""
    fields.update(arrangement_problems(care_form, provider_id is not None,
                                       caregiver_id is not None))
    if starts_on is None:
        fields["starts_on"] = "请选择护理计划的开始日期"
        return 0
    if problem := start_problem(starts_on, entitlement["starts_on"], _last_day(entitlement),
                                current["starts_on"] if current else None):
        fields["starts_on"] = problem
    has_nurse = False
    if provider_id is not None and "provider" not in fields:
        organisation = await organisations.by_id(provider_id)
        agreement = None
        if organisation is None or not organisation.active or organisation.kind != "provider":
            fields["provider"] = "请选择一家定点护理机构"
        else:
            agreement = await active_agreement(str(AgreementKind.provider), on=starts_on,
                                               organisation=provider_id)
            if agreement is None:
                fields["provider"] = (f"该机构在 {starts_on.isoformat()} 没有生效的护理服务协议，"
                                      "不能安排护理；请选择其他机构或先签订协议")
            elif (exit_day := await sanctions.exit_day_of(provider_id)) and (
                    starts_on >= exit_day):
                fields["provider"] = (f"该机构已告知将于 {exit_day.isoformat()} 退出，不能安排"
                                      "该日及以后的护理；请选择其他机构")
        if agreement and care_form == CareForm.institution and (
                agreement["institutional_beds"] <= 0):
            fields["provider"] = "该机构的协议不含机构护理床位，请选择有床位协议的机构"
        if agreement and care_form == CareForm.home and not agreement["home_visits"]:
            fields["provider"] = "该机构的协议不含上门服务，请选择有上门服务协议的机构"
        has_nurse = await _has_nurse(provider_id, starts_on)
    if caregiver_id is not None and care_form == CareForm.home:
        if not await _caregiver_covers(caregiver_id, entitlement["person"], starts_on):
            fields["family_caregiver"] = (f"所选亲属护理协议不是本人的，或在 "
                                          f"{starts_on.isoformat()} 不在协议期内，请重新选择")
    try:
        policy = (await policies.policy_in_force(entitlement["region_path"], starts_on)).policy
    except Conflict as exc:
        fields["starts_on"] = exc.message
        return 0
    fields.update(plan_problems(items, policy.care_required, policy.care_optional,
                                _rules_catalogue(await catalogue()), has_nurse))
    return plan_visits(policy, entitlement["grade"], care_form, provider_id is not None)


def _invalid(fields: dict[str, str]) -> InvalidInput:
    return InvalidInput("invalid_care_plan", "护理计划有误，请按提示逐项修改", fields)


async def _supersede(actor: Actor, current: dict[str, Any] | None,
                     new_plan: dict[str, Any]) -> None:
    if current is None:
        return
    await db.update_versioned(CarePlan, current["id"], current["version"],
                              {CarePlan.state: str(PlanState.SUPERSEDED)})
    last_day = new_plan["starts_on"] - timedelta(days=1)
    await audit.record(actor, "care_plan.superseded", "care_plan", current["id"],
                       before={"state": current["state"]},
                       after={"state": str(PlanState.SUPERSEDED),
                              "ends_on": last_day.isoformat(), "by_plan": new_plan["id"],
                              "by_plan_no": new_plan["plan_no"]})


async def _publish_confirmed(plan: dict[str, Any], superseded: dict[str, Any] | None) -> None:
    """The careplan.confirmed event of a plan that became ACTIVE (the two ways: a clerk's
    own plan, a provider's confirmed), in the transaction that confirmed it."""
    items = await catalogue()
    provider = await organisations.by_id(plan["provider"]) if plan["provider"] else None
    caregiver = await Agreement.select(Agreement.number, Agreement.caregiver_name).where(
        Agreement.id == plan["family_caregiver"]).first() if plan["family_caregiver"] else None
    codes = plan["items"] if isinstance(plan["items"], list) else json.loads(plan["items"])
    await events.emit(events.EventType.careplan_confirmed,
                      await events.person_subject(plan["person"]), PlanConfirmed(
                          plan_id=plan["id"], plan_no=plan["plan_no"],
                          entitlement_id=plan["entitlement"], care_form=plan["care_form"],
                          items=tuple((c, items[c]["name_zh"] if c in items else c)
                                      for c in codes),
                          visits_per_month=plan["visits_per_month"],
                          starts_on=plan["starts_on"],
                          provider=(provider.code, provider.name) if provider else None,
                          family_caregiver=(caregiver["number"], caregiver["caregiver_name"])
                          if caregiver else None,
                          supersedes_plan_no=superseded["plan_no"] if superseded else None,
                      ).as_data())


def _summary(plan: dict[str, Any]) -> dict[str, Any]:
    return {"entitlement": plan["entitlement"], "plan_no": plan["plan_no"],
            "state": plan["state"], "care_form": plan["care_form"],
            "provider": plan["provider"], "family_caregiver": plan["family_caregiver"],
            "items": plan["items"] if isinstance(plan["items"], list)
            else json.loads(plan["items"]),
            "visits_per_month": plan["visits_per_month"],
            "starts_on": plan["starts_on"].isoformat()}


# --- transitions ---------------------------------------------------------------------------

async def propose_plan(actor: Actor, entitlement_id: int, *, care_form: str,
                       provider_id: int | None, family_caregiver_agreement_id: int | None,
                       items: list[str], starts_on: date | None,
                       note: str = "") -> dict[str, Any]:
    """A new version of the entitlement's plan. By a provider, for its own organisation:
    PROPOSED, waiting for a clerk. By a clerk: ACTIVE at once (made and confirmed by the
    clerk), superseding the version before it. Every problem is reported at once."""
    require_role(actor, PLAN_ROLES, "制定护理计划")
    by_provider = actor.role == Role.provider
    fields: dict[str, str] = {}
    if by_provider:
        if provider_id is None:
            provider_id = actor.organisation_id
        elif provider_id != actor.organisation_id:
            fields["provider"] = "护理机构只能为本机构提出护理计划"
    note = note.strip()
    if len(note) > NOTE_MAX:
        fields["note"] = f"说明不超过{NOTE_MAX}个字"
    codes = ordered_items(items)
    async with db.write_transaction():
        await _lock(entitlement_id)
        entitlement = await _entitlement(actor, entitlement_id)
        if entitlement["state"] == EntitlementState.ENDED:
            raise Conflict("wrong_state", "待遇资格已终止，不能制定护理计划")
        versions = await _versions(entitlement_id)
        pending = next((v for v in versions if v["state"] == PlanState.PROPOSED), None)
        if pending:
            raise Conflict("plan_pending", "该待遇资格已有一份待确认的护理计划"
                           f"（第{pending['plan_no']}版），请先由经办员确认或退回，再提出新的版本")
        current = _latest_active(versions)
        visits = await _check(entitlement, current, care_form=care_form,
                              provider_id=provider_id,
                              caregiver_id=family_caregiver_agreement_id, items=codes,
                              starts_on=starts_on, fields=fields)
        if fields:
            raise _invalid(fields)
        state = PlanState.PROPOSED if by_provider else PlanState.ACTIVE
        plan = CarePlan(
            entitlement=entitlement_id, person=entitlement["person"],
            region_path=entitlement["region_path"],
            plan_no=max((v["plan_no"] for v in versions), default=0) + 1,
            care_form=care_form, family_caregiver=family_caregiver_agreement_id,
            provider=provider_id, items=json.dumps(codes), visits_per_month=visits,
            starts_on=starts_on, state=str(state), note=note, proposed_by=actor.id,
            confirmed_by=None if by_provider else actor.id)
        await plan.save()
        row = plan.to_dict()
        await audit.record(actor, "care_plan.proposed" if by_provider else "care_plan.created",
                           "care_plan", plan.id, after=_summary(row), note=note or None)
        if not by_provider:
            await _supersede(actor, current, row)
            await _publish_confirmed(row, current)
            await letters.request_letter(actor, row)
    return _decoded(await _row(plan.id))


async def _row(plan_id: int) -> dict[str, Any]:
    return await CarePlan.select().where(CarePlan.id == plan_id).first()


async def _managed(actor: Actor, plan_id: int, expected_version: int,
                   doing: str) -> dict[str, Any]:
    """A PROPOSED plan in the clerk's region, read at the version the clerk saw."""
    require_role(actor, MANAGE_ROLES, doing)
    plan = await CarePlan.select().where(
        (CarePlan.id == plan_id) & in_region(actor, CarePlan.region_path)).first()
    if plan is None:
        raise _plan_not_found(plan_id)
    await _lock(plan["entitlement"])
    plan = await _row(plan_id)
    if plan["state"] != PlanState.PROPOSED:
        raise Conflict("wrong_state", f"这份护理计划{PlanState(plan['state']).label}，"
                       f"不能{doing}")
    if plan["version"] != expected_version:
        raise db.StaleWrite(CarePlan._meta.tablename, plan_id)
    return plan


async def confirm_plan(actor: Actor, plan_id: int, expected_version: int) -> dict[str, Any]:
    """PROPOSED → ACTIVE, checked again as of now (an agreement may have ended meanwhile);
    the version before it becomes SUPERSEDED, in force until the day before this one
    starts."""
    async with db.write_transaction():
        plan = await _managed(actor, plan_id, expected_version, "确认")
        entitlement = await _entitlement(actor, plan["entitlement"])
        if entitlement["state"] == EntitlementState.ENDED:
            raise Conflict("wrong_state", "待遇资格已终止，不能确认护理计划，请退回")
        current = _latest_active(await _versions(plan["entitlement"]))
        fields: dict[str, str] = {}
        visits = await _check(entitlement, current, care_form=plan["care_form"],
                              provider_id=plan["provider"],
                              caregiver_id=plan["family_caregiver"],
                              items=json.loads(plan["items"]), starts_on=plan["starts_on"],
                              fields=fields)
        if fields:
            raise InvalidInput("care_plan_not_confirmable", "这份护理计划现在不能确认："
                               + "；".join(fields.values()) + "。请退回机构修改", fields)
        after = await db.update_versioned(CarePlan, plan_id, expected_version, {
            CarePlan.state: str(PlanState.ACTIVE), CarePlan.confirmed_by: actor.id,
            CarePlan.visits_per_month: visits})
        await audit.record(actor, "care_plan.confirmed", "care_plan", plan_id,
                           before={"state": plan["state"]}, after=_summary(after))
        await _supersede(actor, current, after)
        await _publish_confirmed(after, current)
        await letters.request_letter(actor, after)
    return _decoded(after)


async def reject_plan(actor: Actor, plan_id: int, expected_version: int,
                      reason: str) -> dict[str, Any]:
    """PROPOSED → REJECTED with a reason the provider sees; it may then propose again."""
    async with db.write_transaction():
        fields: dict[str, str] = {}
        if not 2 <= len(reason.strip()) <= NOTE_MAX:
            fields["reason"] = "请填写退回原因（机构会看到它并据此修改后重新提出）"
        plan = await _managed(actor, plan_id, expected_version, "退回")
        if fields:
            raise InvalidInput("invalid_rejection", "退回信息有误，请按提示修改", fields)
        after = await db.update_versioned(CarePlan, plan_id, expected_version, {
            CarePlan.state: str(PlanState.REJECTED)})
        await audit.record(actor, "care_plan.rejected", "care_plan", plan_id,
                           before={"state": plan["state"]},
                           after={"state": str(PlanState.REJECTED)}, note=reason.strip())
    return _decoded(after)


# --- the new-plan form ---------------------------------------------------------------------

async def form_context(actor: Actor, entitlement_id: int) -> dict[str, Any]:
    """What the new-version form offers for an entitlement: the person, the current and any
    pending version, the package in force on the suggested start date (items with their
    catalogue rows), the providers to choose from and the family caregiver agreements."""
    require_role(actor, PLAN_ROLES, "制定护理计划")
    entitlement = await _entitlement(actor, entitlement_id)
    versions = await _versions(entitlement_id)
    current = _latest_active(versions)
    today = clock.today()
    suggested = max(today, entitlement["starts_on"])
    if current and suggested <= current["starts_on"]:
        suggested = current["starts_on"] + timedelta(days=1)
    policy = (await policies.policy_in_force(entitlement["region_path"], suggested)).policy
    items = await catalogue()
    providers = await organisations.active_of_kind(
        actor, "provider", order="name",
        only_id=actor.organisation_id if actor.role == Role.provider else None)
    caregivers = await Agreement.select(
        Agreement.id, Agreement.number, Agreement.caregiver_name, Agreement.relationship,
        Agreement.starts_on, Agreement.ends_on).where(
        (Agreement.kind == str(AgreementKind.caregiver))
        & (Agreement.beneficiary == entitlement["person"])
        & (Agreement.state == str(AgreementState.ACTIVE))).order_by(Agreement.id)
    return {
        "entitlement": {**entitlement, "grade_label": GRADE_LABELS[entitlement["grade"]],
                        "last_day": _last_day(entitlement)},
        "current": _decoded(current) if current else None,
        "pending": next((_decoded(v) for v in versions if v["state"] == PlanState.PROPOSED),
                        None),
        "suggested_start": suggested,
        "required": [items.get(c) or _unknown(c) for c in policy.care_required],
        "optional": [items.get(c) or _unknown(c) for c in policy.care_optional],
        "visits_by_grade": plan_visits(policy, entitlement["grade"], CareForm.home, True),
        "providers": providers,
        "caregivers": caregivers,
    }


def _unknown(code: str) -> dict[str, Any]:
    return {"code": code, "name_zh": code, "nurse_only": False, "category": "", "minutes": 0}



async def hand_over(actor: Actor, plan_id: int, provider_id: int, starts_on: date,
                    note: str) -> dict[str, Any]:
    """A provider's exit (ltc.sanctions): the clerk's new version of the entitlement's plan
    with `plan_id`'s care form, caregiver and items, and `provider_id` from `starts_on`
    (ACTIVE at once, as every clerk's plan; the household is sent a new care-plan letter with
    its new PIN and confirms visits of the new provider with it)."""
    plan = await _row(plan_id)
    if plan is None:
        raise _plan_not_found(plan_id)
    return await propose_plan(actor, plan["entitlement"], care_form=plan["care_form"],
                              provider_id=provider_id,
                              family_caregiver_agreement_id=plan["family_caregiver"],
                              items=json.loads(plan["items"]), starts_on=starts_on, note=note)
