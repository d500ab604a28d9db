"""Sanctions (21号文), the ban register (禁入名单) and a care provider's exit with its client
handover worklist. One function per transition, each with its audit event; rules in
ltc.sanctions.rules.

An organisation's sanction acts on its agreements (ltc.agreements.service suspend /
terminate from the first day), so visits, plans and payouts see it where they already look;
when a suspension's period is over, the daily pass (`daily`) reinstates them from the next
day as a new version, leaving the suspended days uncovered;
a member of staff's is read by visit logging (ltc.sanctions.interface.staff_refusal). An
exit's handover makes each client's next plan version for the chosen provider from the exit
day (ltc.careplans.service.hand_over); completing the exit terminates the provider's
agreements from the exit day, so nothing after it is covered, logged or paid."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ltc import clock, db
from ltc.agreements import service as agreements
from ltc.audit import service as audit
from ltc.careplans import interface as careplans
from ltc.careplans import service as careplan_service
from ltc.errors import Conflict, DomainError, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, Role, in_region, region_covers, require_role
from ltc.organisations import interface as organisations
from ltc.people.rules import mask_resident_id, normalise_resident_id
from ltc.sanctions.rules import (
    Candidate,
    Category,
    ExitState,
    ItemState,
    Measure,
    Target,
    acts_from,
    ban_problems,
    completion_problem,
    exit_problem,
    propose_all,
    sanction_problems,
    town_of,
)
from ltc.sanctions.tables import Ban, HandoverItem, ProviderExit, Sanction
from ltc.staff import interface as staff

MANAGE = frozenset({Role.clerk})
AGREEMENT_KINDS = ("provider", "assessment")


def _covers(actor: Actor, path: str) -> bool:
    return actor.region_path is None or region_covers(actor.region_path, path)


def _day(value: Any, field: str, problems: dict[str, str]) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems[field] = "日期格式应为 年-月-日，如 2027-01-31"
        return None


def _id(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# --- sanctions --------------------------------------------------------------------------

async def _party(actor: Actor, target: str, party: int | None) -> tuple[int, int | None, str]:
    """(organisation id, staff id, region path) of the party in the actor's region."""
    if target == Target.staff:
        found = await staff.member(party) if party is not None else None
        if found is None or not _covers(actor, found.region_path):
            raise InvalidInput("invalid_sanction", "处理信息有误，请按提示修改",
                               {"party": "请选择您管辖范围内的服务人员"})
        return found.organisation, found.id, found.region_path
    organisation = await organisations.by_id(party) if party is not None else None
    if organisation is None or not _covers(actor, organisation.region_path):
        raise InvalidInput("invalid_sanction", "处理信息有误，请按提示修改",
                           {"party": "请选择您管辖范围内的定点机构"})
    return organisation.id, None, organisation.region_path


async def _act_on_agreements(actor: Actor, organisation_id: int, measure: str,
                             reason: str, starts_on: date, ends_on: date | None) -> int | None:
    """Suspend or terminate the organisation's running agreements that the sanction's period
    reaches, each from `rules.acts_from` (a renewal signed ahead from its own first day);
    returns the first one's id (None: none is reached — the sanction stands alone and the
    ban on signing follows from the register's status)."""
    reached = [(row, day) for row in await agreements.running_of(organisation_id,
                                                                  AGREEMENT_KINDS)
               if (day := acts_from(row["starts_on"], row["ends_on"], starts_on,
                                    ends_on)) is not None]
    if not reached:
        return None
    for row, day in reached:
        try:
            if measure == Measure.terminate:
                await agreements.terminate(actor, row["id"], row["version"], reason=reason,
                                           from_day=day)
            elif row["state"] == "ACTIVE":
                await agreements.suspend(actor, row["id"], row["version"], reason=reason,
                                         from_day=day)
        except InvalidInput as exc:
            raise InvalidInput("invalid_sanction", "处理信息有误，请按提示修改",
                               {"starts_on": "；".join(exc.fields.values())}) from exc
    return reached[0][0]["id"]


async def record_sanction(actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    """Record a sanction of an organisation (its agreements suspended or terminated) or of a
    member of staff (eligibility suspended for a period, or withdrawn), with its reason,
    legal basis and period; every problem at once, nothing written on any."""
    require_role(actor, MANAGE, "记录处理决定")
    problems: dict[str, str] = {}
    fields = {
        "target": values.get("target", ""), "measure": values.get("measure", ""),
        "category": values.get("category", ""), "party": _id(values.get("party")),
        "reason": str(values.get("reason", "")).strip(),
        "legal_basis": str(values.get("legal_basis", "")).strip(),
        "starts_on": _day(values.get("starts_on"), "starts_on", problems),
        "ends_on": _day(values.get("ends_on"), "ends_on", problems),
    }
    problems = sanction_problems(fields, problems)
    if problems:
        raise InvalidInput("invalid_sanction", "处理信息有误，请按提示修改", problems)
    async with db.write_transaction():
        organisation_id, staff_id, region_path = await _party(actor, fields["target"],
                                                              fields["party"])
        agreement_id = None
        if fields["target"] == Target.organisation:
            agreement_id = await _act_on_agreements(
                actor, organisation_id, fields["measure"],
                f"{Category(fields['category']).label}：{fields['reason']}（依据：{fields['legal_basis']}）",
                fields["starts_on"], fields["ends_on"])
        row = Sanction(target=fields["target"], organisation=organisation_id, staff=staff_id,
                       agreement=agreement_id, measure=fields["measure"],
                       category=fields["category"], reason=fields["reason"],
                       legal_basis=fields["legal_basis"], starts_on=fields["starts_on"],
                       ends_on=fields["ends_on"], region_path=region_path,
                       created_by=actor.id)
        await row.save()
        subject = ("staff", staff_id) if staff_id else ("organisation", organisation_id)
        await audit.record(actor, "sanction.recorded", *subject, after={
            "sanction": row.id, "measure": fields["measure"], "category": fields["category"],
            "starts_on": fields["starts_on"].isoformat(),
            "ends_on": fields["ends_on"].isoformat() if fields["ends_on"] else None,
            "legal_basis": fields["legal_basis"]}, note=fields["reason"])
    return row.to_dict()


_SANCTION_COLUMNS = (
    *Sanction.all_columns(), Sanction.organisation.name.as_alias("organisation_name"),
    Sanction.organisation.code.as_alias("organisation_code"),
    Sanction.staff.name.as_alias("staff_name"))


def _sanction_where(actor: Actor, q: str, target: str, measure: str, state: str):
    where = in_region(actor, Sanction.region_path)
    if q.strip():
        like = f"%{q.strip()}%"
        where &= (Sanction.organisation.name.like(like) | Sanction.organisation.code.like(like)
                  | Sanction.staff.name.like(like) | Sanction.reason.like(like))
    if target in Target.__members__:
        where &= Sanction.target == target
    if measure in Measure.__members__:
        where &= Sanction.measure == measure
    today = clock.today()
    if state == "current":
        where &= (Sanction.starts_on <= today) & (
            Sanction.ends_on.is_null() | (Sanction.ends_on >= today))
    elif state == "ended":
        where &= Sanction.ends_on < today
    return where


async def list_sanctions(actor: Actor, *, q: str = "", target: str = "", measure: str = "",
                         state: str = "", after: int = 0, limit: int = 50
                         ) -> list[dict[str, Any]]:
    require_role(actor, MANAGE, "查看处理决定")
    where = _sanction_where(actor, q, target, measure, state)
    if after:
        where &= Sanction.id < after
    return await Sanction.select(*_SANCTION_COLUMNS).where(where).order_by(
        Sanction.id, ascending=False).limit(limit)


async def public_sanctions(*, q: str = "", after: int = 0, limit: int = 50
                           ) -> list[dict[str, Any]]:
    """The public list (no sign-in): organisations sanctioned, the measure, period and
    reason category only — no staff, no reasons' details, no personal data."""
    where = Sanction.target == str(Target.organisation)
    if q.strip():
        where &= Sanction.organisation.name.like(f"%{q.strip()}%")
    if after:
        where &= Sanction.id < after
    return await Sanction.select(
        Sanction.id, Sanction.organisation.name.as_alias("organisation_name"),
        Sanction.measure, Sanction.category, Sanction.starts_on, Sanction.ends_on,
    ).where(where).order_by(Sanction.id, ascending=False).limit(limit)


async def daily(today: date) -> int:
    """The end of organisations' suspensions: each agreement still suspended from a
    suspension's first day is reinstated from the day after its last (agreements.reinstate:
    the suspended days stay uncovered). Idempotent: a reinstated agreement is no longer
    suspended; catches up missed days. Returns how many were reinstated."""
    ended = await Sanction.select().where(
        (Sanction.target == str(Target.organisation)) & (Sanction.measure == str(Measure.suspend))
        & (Sanction.ends_on < today)).order_by(Sanction.id)
    count = 0
    for sanction in ended:
        for row in await agreements.running_of(sanction["organisation"], AGREEMENT_KINDS):
            from_day = sanction["ends_on"] + timedelta(days=1)
            suspended_from = acts_from(row["starts_on"], row["ends_on"],
                                       sanction["starts_on"], sanction["ends_on"])
            if (row["state"] == "SUSPENDED" and row["state_changed_on"] == suspended_from
                    and from_day <= row["ends_on"]):
                try:
                    await agreements.reinstate(
                        SYSTEM, row["id"], row["version"], from_day=from_day,
                        reason=f"暂停期满（{sanction['starts_on'].isoformat()} 至 "
                               f"{sanction['ends_on'].isoformat()}），自次日起恢复")
                except db.StaleWrite:
                    continue  # a clerk changed it meanwhile: the next pass looks again
                except Conflict:  # its legal representative banned meanwhile: stays suspended
                    continue
                count += 1
    return count


# --- the ban register ---------------------------------------------------------------------

async def record_ban(actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    """A person barred, by resident ID, for a period; every problem at once."""
    require_role(actor, MANAGE, "登记禁入名单")
    problems: dict[str, str] = {}
    fields = {
        "resident_id": normalise_resident_id(str(values.get("resident_id", ""))),
        "name": str(values.get("name", "")).strip(),
        "category": values.get("category", ""),
        "reason": str(values.get("reason", "")).strip(),
        "legal_basis": str(values.get("legal_basis", "")).strip(),
        "starts_on": _day(values.get("starts_on"), "starts_on", problems),
        "ends_on": _day(values.get("ends_on"), "ends_on", problems),
    }
    problems = ban_problems(fields, clock.today(), problems)
    if problems:
        raise InvalidInput("invalid_ban", "禁入登记有误，请按提示修改", problems)
    async with db.write_transaction():
        row = Ban(**fields, region_path=actor.region_path or "", created_by=actor.id)
        await row.save()
        await audit.record(actor, "ban.recorded", "ban", row.id, after={
            "resident_id": mask_resident_id(fields["resident_id"]), "name": fields["name"],
            "category": fields["category"], "starts_on": fields["starts_on"].isoformat(),
            "ends_on": fields["ends_on"].isoformat()}, note=fields["reason"])
    return row.to_dict()


def _ban_where(actor: Actor, q: str, category: str, state: str):
    where = in_region(actor, Ban.region_path)
    text = q.strip()
    if text:
        where &= (Ban.name.like(f"%{text}%") | (Ban.resident_id == normalise_resident_id(text)))
    if category in Category.__members__:
        where &= Ban.category == category
    today = clock.today()
    if state == "current":
        where &= (Ban.starts_on <= today) & (Ban.ends_on >= today)
    elif state == "ended":
        where &= Ban.ends_on < today
    return where


async def list_bans(actor: Actor, *, q: str = "", category: str = "", state: str = "",
                    after: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    """A page of the ban register (resident IDs are masked by the pages that show it)."""
    require_role(actor, MANAGE, "查看禁入名单")
    where = _ban_where(actor, q, category, state)
    if after:
        where &= Ban.id < after
    return await Ban.select().where(where).order_by(Ban.id, ascending=False).limit(limit)


# --- provider exit and handover -------------------------------------------------------------

async def _candidates(exit_on: date, exiting: int, actor: Actor) -> list[Candidate]:
    """The region's other providers with a provider agreement in force on the exit day."""
    providers = [p for p in await organisations.active_of_kind(actor, "provider")
                 if p.id != exiting]
    covered = [p for p in providers if await agreements.active_agreement(
        "provider", on=exit_on, organisation=p.id)]
    counts = await careplans.client_counts([p.id for p in covered])
    return [Candidate(p.id, p.code, p.name, p.towns, counts[p.id]) for p in covered]


async def give_notice(actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    """A care provider's notice of exit: its exit day at least EXIT_NOTICE_MONTHS ahead,
    and its handover worklist — one item per client (plan in force naming it) with the
    provider proposed for them (rules.propose_all)."""
    require_role(actor, MANAGE, "办理机构退出")
    problems: dict[str, str] = {}
    today = clock.today()
    organisation_id = _id(values.get("organisation"))
    exit_on = _day(values.get("exit_on"), "exit_on", problems)
    reason = str(values.get("reason", "")).strip()
    organisation = await organisations.by_id(organisation_id) if organisation_id else None
    if (organisation is None or organisation.kind != "provider"
            or not _covers(actor, organisation.region_path)):
        problems["organisation"] = "请选择您管辖范围内的护理服务机构"
    if "exit_on" not in problems and (problem := exit_problem(exit_on, today)):
        problems["exit_on"] = problem
    if not reason or len(reason) > 500:
        problems["reason"] = "请填写退出原因（不超过500字）"
    if problems:
        raise InvalidInput("invalid_exit", "退出信息有误，请按提示修改", problems)
    assert organisation is not None and exit_on is not None
    try:
        return await _record_exit(actor, organisation, exit_on, reason, today)
    except db.UNIQUE_VIOLATIONS as exc:  # another clerk recorded it at the same moment
        raise Conflict("exit_open", f"{organisation.name}已有进行中的退出办理") from exc


async def _record_exit(actor: Actor, organisation: organisations.OrganisationRef,
                       exit_on: date, reason: str, today: date) -> dict[str, Any]:
    async with db.write_transaction():
        if await ProviderExit.exists().where(
                (ProviderExit.organisation == organisation.id)
                & (ProviderExit.state == str(ExitState.OPEN))):
            raise Conflict("exit_open", f"{organisation.name}已有进行中的退出办理")
        row = ProviderExit(organisation=organisation.id, region_path=organisation.region_path,
                           notice_on=today, exit_on=exit_on, reason=reason,
                           state=str(ExitState.OPEN), created_by=actor.id)
        await row.save()
        clients = await _add_clients(actor, row.to_dict())
        await audit.record(actor, "provider_exit.noticed", "organisation", organisation.id,
                           after={"exit": row.id, "exit_on": exit_on.isoformat(),
                                  "clients": clients}, note=reason)
    return row.to_dict()


async def _add_clients(actor: Actor, exit_row: dict[str, Any]) -> int:
    """Add to the worklist every client of the exiting provider not on it yet: each plan
    version in force (ACTIVE) that names it — at notice, all of them; later, plans made
    for it since. Returns how many were added."""
    organisation = exit_row["organisation"]
    listed = {r["care_plan"] for r in await HandoverItem.select(HandoverItem.care_plan).where(
        HandoverItem.provider_exit == exit_row["id"])}
    plans = [p for p in await careplans.plans_in_force_of(organisation) if p.id not in listed]
    towns = [town_of(p.region_path) for p in plans]
    proposals = propose_all(towns, await _candidates(exit_row["exit_on"], organisation, actor),
                            organisation)
    for plan, town, proposed in zip(plans, towns, proposals, strict=True):
        await HandoverItem(provider_exit=exit_row["id"], person=plan.person,
                           entitlement=plan.entitlement, care_plan=plan.id, town=town,
                           proposed=proposed.id if proposed else None,
                           state=str(ItemState.OPEN)).save()
    return len(plans)


def _exit_not_found(exit_id: int) -> NotFound:
    return NotFound("exit_not_found", f"退出办理 {exit_id} 不存在或不在您的管辖范围内")


async def get_exit(actor: Actor, exit_id: int) -> dict[str, Any]:
    """The exit with its worklist: each item with the client's name, town, the proposed and
    chosen providers and the choices (the candidates serving any town)."""
    require_role(actor, MANAGE, "查看机构退出")
    row = await ProviderExit.select(
        *ProviderExit.all_columns(), ProviderExit.organisation.name.as_alias("organisation_name"),
    ).where((ProviderExit.id == exit_id) & in_region(actor, ProviderExit.region_path)).first()
    if row is None:
        raise _exit_not_found(exit_id)
    items = await HandoverItem.select(
        *HandoverItem.all_columns(), HandoverItem.person.name.as_alias("person_name"),
        HandoverItem.proposed.name.as_alias("proposed_name"),
        HandoverItem.chosen.name.as_alias("chosen_name"),
    ).where(HandoverItem.provider_exit == exit_id).order_by(HandoverItem.id)
    candidates = await _candidates(row["exit_on"], row["organisation"], actor)
    return {**row, "state_label": ExitState(row["state"]).label, "items": items,
            "open_items": sum(1 for i in items if i["state"] == ItemState.OPEN),
            "candidates": sorted(candidates, key=lambda c: c.code)}


async def hand_over(actor: Actor, item_id: int, expected_version: int,
                    provider_id: int | None) -> dict[str, Any]:
    """The clerk confirms the proposed provider (or chooses another) for one client: the
    client's next plan version names it from the exit day. Refused with the plan's own
    problems (no agreement on the day, no home visits, …); nothing changes then."""
    require_role(actor, MANAGE, "办理服务对象交接")
    async with db.write_transaction():
        item = await HandoverItem.select().where(HandoverItem.id == item_id).first()
        if item is None:
            raise NotFound("handover_item_not_found", f"交接事项 {item_id} 不存在")
        exit_row = await get_exit(actor, item["provider_exit"])
        if item["state"] != ItemState.OPEN:
            raise Conflict("wrong_state", "该服务对象已完成交接")
        if item["version"] != expected_version:
            raise db.StaleWrite(HandoverItem._meta.tablename, item_id)
        if provider_id is None or provider_id == exit_row["organisation"]:
            raise InvalidInput("invalid_handover", "请选择接收的护理机构",
                               {"provider": "请选择接收的护理机构（不能是退出的机构）"})
        try:
            plan = await careplan_service.hand_over(
                actor, item["care_plan"], provider_id, exit_row["exit_on"],
                note=f"原护理机构{exit_row['organisation_name']}于"
                     f"{exit_row['exit_on'].isoformat()}退出，服务对象交接")
        except DomainError as exc:
            raise InvalidInput("invalid_handover", exc.message,
                               {"provider": "；".join(exc.fields.values()) or exc.message}
                               ) from exc
        changed = await db.update_versioned(HandoverItem, item_id, expected_version, {
            HandoverItem.chosen: provider_id, HandoverItem.new_plan: plan["id"],
            HandoverItem.state: str(ItemState.DONE), HandoverItem.done_by: actor.id,
            HandoverItem.done_at: clock.now()})
        await audit.record(actor, "provider_exit.handed_over", "person", item["person"],
                           after={"exit": item["provider_exit"], "provider": provider_id,
                                  "proposed": item["proposed"], "care_plan": plan["id"]})
    return changed


async def complete_exit(actor: Actor, exit_id: int, expected_version: int) -> dict[str, Any]:
    """Every client handed over — checked again against the plans in force, so a client
    the provider took on since the notice is added to the list and stops the completion —
    the exit completes and the provider's agreements are terminated from the exit day
    (nothing after it is covered, logged or paid)."""
    require_role(actor, MANAGE, "完成机构退出")
    async with db.write_transaction():  # clients who came since the notice join the list
        row = await get_exit(actor, exit_id)
        added = await _add_clients(actor, row) if row["state"] == ExitState.OPEN else 0
    if added:
        raise Conflict("handover_open", f"自登记退出以来又有 {added} 名服务对象由该机构服务，"
                       "已加入交接清单，请先完成交接")
    async with db.write_transaction():
        row = await get_exit(actor, exit_id)
        if row["version"] != expected_version:
            raise db.StaleWrite(ProviderExit._meta.tablename, exit_id)
        if problem := completion_problem(row["open_items"], row["state"]):
            raise Conflict("handover_open", problem)
        note = f"机构退出（{row['reason']}），服务对象已全部交接"
        for agreement in await agreements.running_of(row["organisation"], ("provider",)):
            # Every agreement reaching past the exit ends with it, a renewal signed ahead
            # from its own first day (it then never covers a day).
            day = acts_from(agreement["starts_on"], agreement["ends_on"], row["exit_on"], None)
            if day is not None:
                await agreements.terminate(actor, agreement["id"], agreement["version"],
                                           reason=note, from_day=day)
        changed = await db.update_versioned(ProviderExit, exit_id, expected_version, {
            ProviderExit.state: str(ExitState.COMPLETED), ProviderExit.completed_at: clock.now()})
        await audit.record(actor, "provider_exit.completed", "organisation", row["organisation"],
                           after={"exit": exit_id, "exit_on": row["exit_on"].isoformat()})
    return changed


async def list_exits(actor: Actor, *, q: str = "", state: str = "", after: int = 0,
                     limit: int = 50) -> list[dict[str, Any]]:
    require_role(actor, MANAGE, "查看机构退出")
    where = in_region(actor, ProviderExit.region_path)
    if q.strip():
        where &= ProviderExit.organisation.name.like(f"%{q.strip()}%")
    if state in ExitState.__members__:
        where &= ProviderExit.state == state
    if after:
        where &= ProviderExit.id < after
    rows = await ProviderExit.select(
        *ProviderExit.all_columns(), ProviderExit.organisation.name.as_alias("organisation_name"),
    ).where(where).order_by(ProviderExit.id, ascending=False).limit(limit)
    for r in rows:
        r["open_items"] = await HandoverItem.count().where(
            (HandoverItem.provider_exit == r["id"]) & (HandoverItem.state == str(ItemState.OPEN)))
    return rows


async def open_exit_count(actor: Actor) -> int:
    """Exits in the clerk's region still in hand: clients to hand over, or to complete."""
    return await ProviderExit.count().where(
        (ProviderExit.state == str(ExitState.OPEN)) & in_region(actor, ProviderExit.region_path))
