"""Decisions and entitlements (SPEC §3): deciding a case, the entitlement's state kept true to
its facts (dates, hospital stays, suspensions), the clerk's suspend / resume / end, the daily
refresh (expiry, renewal tasks), and the effects of enrolment events."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from piccolo.columns.combination import WhereRaw

from ltc import clock, db
from ltc.applications.rules import ApplicationState
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit import service as audit
from ltc.decision_events import interface as events
from ltc.enrollment.tables import HospitalStay
from ltc.entitlements.rules import (
    CLERK_END_REASONS,
    END_REASONS,
    PUBLISHED_KINDS,
    EntitlementEvent,
    EntitlementFacts,
    EntitlementState,
    Interval,
    benefit_start,
    expiry,
    renewal_due_on,
    state_on,
)
from ltc.entitlements.tables import Decision, Entitlement, EntitlementChange, Suspension
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import SYSTEM, Actor, Role, in_region, region_covers, require_role
from ltc.jobs import outbox
from ltc.people import interface as people
from ltc.people.rules import mask_resident_id
from ltc.policy.rules import is_eligible, validity_months
from ltc.policy.service import issuer, longest_renewal_lead, parsed_definition, policy_in_force

DECISION_PREFIX = "JD"
MANAGE_ROLES = frozenset({Role.clerk})


# --- deciding a case -------------------------------------------------------------------

async def decide(actor: Actor, assessment_id: int, basis: str, today: date) -> dict[str, Any]:
    """The decision on the case of a concluded assessment: an eligible grade gives an
    entitlement from the first day of next month; otherwise the case closes. Either way the
    application closes and a decision letter is rendered after commit. Idempotent: a case
    already decided returns its decision."""
    async with db.write_transaction():
        assessment = await (
            Assessment.select(Assessment.id, Assessment.grade, Assessment.region_path,
                              Assessment.application, Assessment.application.person,
                              Assessment.application.state, Assessment.application.version)
            .where(Assessment.id == assessment_id).first())
        existing = await Decision.select().where(
            Decision.application == assessment["application"]).first()
        if existing:
            return existing
        in_force = await policy_in_force(assessment["region_path"], today)
        eligible = is_eligible(in_force.policy, assessment["grade"])
        decision = Decision(
            number=await db.next_daily_number(Decision.number, DECISION_PREFIX, today),
            application=assessment["application"], assessment=assessment_id,
            person=assessment["application.person"], region_path=assessment["region_path"],
            grade=assessment["grade"], eligible=eligible, basis=basis, decided_on=today,
            policy_version=in_force.version_id)
        await decision.save()
        await audit.record(actor, "decision.made", "decision", decision.id, after={
            "number": decision.number, "grade": decision.grade, "eligible": eligible,
            "basis": basis, "policy_version": in_force.version_id,
            "application": assessment["application"], "person": decision.person})
        await db.update_versioned(Application, assessment["application"],
                                  assessment["application.version"],
                                  {Application.state: str(ApplicationState.CLOSED),
                                   Application.decided_at: clock.now()})
        await audit.record(actor, "application.decided", "application",
                           assessment["application"],
                           before={"state": assessment["application.state"]},
                           after={"state": str(ApplicationState.CLOSED),
                                  "decision": decision.number, "eligible": eligible})
        starts_on = benefit_start(today)
        for previous in await _open_entitlements(decision.person):
            # A re-assessment decides the person's next period: the old entitlement ends
            # the day before the new one starts, or at the month's end if no longer eligible.
            await _end(actor, previous, starts_on - timedelta(days=1),
                       "superseded" if eligible else "reassessed", f"决定 {decision.number}",
                       today)
        if eligible:
            entitlement = Entitlement(
                decision=decision.id, person=decision.person,
                region_path=assessment["region_path"], grade=decision.grade,
                starts_on=starts_on,
                expires_on=expiry(starts_on, validity_months(in_force.policy, decision.grade)),
                state=str(EntitlementState.ACTIVE), policy_version=in_force.version_id)
            await entitlement.save()
            await _change(actor, entitlement.to_dict(), "started", "", starts_on,
                          f"待遇核定 {decision.number}", f"决定 {decision.number}", today)
        await outbox.enqueue("decisions.render_letter", decision.id)
    return decision.to_dict()


async def _open_entitlements(person_id: int) -> list[dict[str, Any]]:
    return await Entitlement.select().where(
        (Entitlement.person == person_id) & (Entitlement.state != str(EntitlementState.ENDED)))


# --- keeping the state true to the facts -----------------------------------------------------

async def facts_of(row: dict[str, Any]) -> EntitlementFacts:
    stays = await HospitalStay.select(HospitalStay.admitted_on, HospitalStay.discharged_on).where(
        HospitalStay.person == row["person"])
    held = await Suspension.select(Suspension.starts_on, Suspension.resumes_on).where(
        Suspension.entitlement == row["id"])
    return EntitlementFacts(
        starts_on=row["starts_on"], expires_on=row["expires_on"], ends_on=row["ends_on"],
        suspensions=tuple(Interval(s["admitted_on"], s["discharged_on"]) for s in stays)
        + tuple(Interval(s["starts_on"], s["resumes_on"]) for s in held))


async def _change(actor: Actor, row: dict[str, Any], kind: str, state_before: str,
                  effective_on: date, reason: str, source: str, today: date, *,
                  publish: bool = True) -> str:
    """Record one change of an entitlement's facts (already written) and bring its state up
    to date; one history row, one audit event and, for a kind partners hear of, one
    decision event (`publish` False: the change only makes an announced one take effect).
    Returns the state after."""
    fresh = await Entitlement.select(
        Entitlement.all_columns(), Entitlement.decision.number.as_alias("decision_number"),
    ).where(Entitlement.id == row["id"]).first()
    facts = await facts_of(fresh)
    state = str(state_on(facts, today))
    if state != fresh["state"]:
        await Entitlement.update({Entitlement.state: state,
                                  Entitlement.version: Entitlement.version + 1}).where(
            Entitlement.id == row["id"])
    await EntitlementChange(entitlement=row["id"], kind=kind, state_before=state_before,
                            state_after=state, effective_on=effective_on, reason=reason,
                            source=source, actor_name=actor.label, at=clock.now()).save()
    await audit.record(actor, f"entitlement.{kind}", "entitlement", row["id"],
                       before={"state": state_before} if state_before else None,
                       after={"state": state, "effective_on": effective_on.isoformat()},
                       note=reason or None)
    if publish and kind in PUBLISHED_KINDS:
        await events.emit(events.EventType(f"entitlement.{kind}"),
                          await events.person_subject(fresh["person"]), EntitlementEvent(
                              kind=kind, entitlement_id=fresh["id"],
                              decision_number=fresh["decision_number"], grade=fresh["grade"],
                              starts_on=fresh["starts_on"], expires_on=fresh["expires_on"],
                              state=state, effective_on=effective_on, reason=reason,
                              end_reason=fresh["end_reason"], last_day=facts.last_day,
                          ).as_data())
    return state


async def _end(actor: Actor, row: dict[str, Any], last_day: date, reason: str, source: str,
               today: date, note: str = "") -> None:
    if row["ends_on"] is not None and row["ends_on"] <= last_day:
        return  # already ends that day or earlier: the earlier end stands
    await Entitlement.update({Entitlement.ends_on: last_day, Entitlement.end_reason: reason,
                              Entitlement.version: Entitlement.version + 1}).where(
        Entitlement.id == row["id"])
    await _change(actor, row, "ended", row["state"], last_day,
                  END_REASONS[reason] + (f"：{note}" if note else ""), source, today)


async def refresh_all(today: date) -> dict[str, int]:
    """The daily pass: states that changed with the date (expiry, a stay or suspension
    starting or ending) and re-assessment tasks raised `renewal_lead_days` before expiry."""
    counts = {"changed": 0, "renewals": 0}
    rows = await Entitlement.select().where(
        (Entitlement.state != str(EntitlementState.ENDED))
        & _may_change(today, await longest_renewal_lead(today))).order_by(Entitlement.id)
    lead_days: dict[str, int] = {}  # by region path: the policy in force today, read once
    for row in rows:
        async with db.write_transaction():
            state = str(state_on(await facts_of(row), today))
            if state != row["state"]:
                kind = {"ACTIVE": "resumed", "SUSPENDED": "suspended"}.get(state, "ended")
                if kind == "ended" and not row["end_reason"]:
                    await Entitlement.update({Entitlement.end_reason: "expired"}).where(
                        Entitlement.id == row["id"])
                reason = END_REASONS[row["end_reason"] or "expired"] if kind == "ended" else ""
                # Only an expiry is news here: every other change of state today was
                # published, with this day, when it was recorded (a clerk's suspension from
                # today, an end at the month's end, a hospital stay).
                await _change(SYSTEM, row, kind, row["state"], today, reason, "scheduler", today,
                              publish=kind == "ended" and not row["end_reason"])
                counts["changed"] += 1
            if row["region_path"] not in lead_days:
                lead_days[row["region_path"]] = (await policy_in_force(
                    row["region_path"], today)).policy.renewal_lead_days
            due = renewal_due_on(row["expires_on"], lead_days[row["region_path"]])
            # No task for one already set to end early (by a clerk or an event).
            early_end = row["ends_on"] is not None and row["ends_on"] < row["expires_on"]
            if row["renewal_raised_on"] is None and state != "ENDED" and due <= today and (
                    not early_end):
                await Entitlement.update({Entitlement.renewal_raised_on: today}).where(
                    Entitlement.id == row["id"])
                await _change(SYSTEM, row, "renewal_raised", state, today,
                              f"有效期至 {row['expires_on'].isoformat()}，请安排到期复评",
                              "scheduler", today)
                counts["renewals"] += 1
    return counts


def _may_change(today: date, lead_days: int) -> WhereRaw:
    """The entitlements the daily pass may have to write today, found over the whole region in
    SQL so that a city's million are not each read in Python: past their last day; stored as
    suspended while nothing covers today, or not while something does (a hospital stay or a
    suspension); or with no renewal task yet and expiring within the longest lead. Each
    candidate is then decided by the rules exactly as before; this only leaves out rows the
    rules would leave alone."""
    covered = (
        "(EXISTS (SELECT 1 FROM hospital_stay h WHERE h.person = entitlement.person"
        " AND h.admitted_on IS NOT NULL AND h.admitted_on <= {}"
        " AND (h.discharged_on IS NULL OR h.discharged_on > {}))"
        " OR EXISTS (SELECT 1 FROM suspension s WHERE s.entitlement = entitlement.id"
        " AND s.starts_on <= {} AND (s.resumes_on IS NULL OR s.resumes_on > {})))")
    return WhereRaw(
        "(entitlement.expires_on < {} OR entitlement.ends_on < {}"
        " OR (entitlement.renewal_raised_on IS NULL AND entitlement.expires_on <= {})"
        f" OR (entitlement.state = 'SUSPENDED' AND NOT {covered})"
        f" OR (entitlement.state <> 'SUSPENDED' AND {covered}))",
        today, today, today + timedelta(days=lead_days), *([today] * 8))


# --- the clerk's actions -----------------------------------------------------------------

async def _managed(actor: Actor, entitlement_id: int, expected_version: int,
                   doing: str) -> dict[str, Any]:
    require_role(actor, MANAGE_ROLES, doing)
    row = await Entitlement.select().where(Entitlement.id == entitlement_id).first()
    if row is None or (actor.region_path and not region_covers(actor.region_path,
                                                                  row["region_path"])):
        raise _not_found(entitlement_id)
    if row["state"] == EntitlementState.ENDED:
        raise Conflict("wrong_state", f"待遇资格已终止，不能{doing}")
    if row["version"] != expected_version:
        raise db.StaleWrite(Entitlement._meta.tablename, entitlement_id)
    return row


def _not_found(entitlement_id: int) -> NotFound:
    return NotFound("entitlement_not_found",
                    f"待遇资格 {entitlement_id} 不存在或不在您的管辖范围内")


def _reason(reason: str, fields: dict[str, str]) -> str:
    if not reason.strip():
        fields["reason"] = "请填写原因，它会写入待遇资格的历史记录"
    return reason.strip()


async def suspend(actor: Actor, entitlement_id: int, expected_version: int, *, starts_on: date,
                  reason: str) -> dict[str, Any]:
    async with db.write_transaction():
        row = await _managed(actor, entitlement_id, expected_version, "暂停待遇")
        fields: dict[str, str] = {}
        reason = _reason(reason, fields)
        if await Suspension.exists().where((Suspension.entitlement == entitlement_id)
                                           & Suspension.resumes_on.is_null()):
            fields["starts_on"] = "已有一项未恢复的暂停，请先恢复"
        if starts_on < row["starts_on"]:
            fields["starts_on"] = f"暂停日期不能早于待遇开始日期 {row['starts_on'].isoformat()}"
        if fields:
            raise InvalidInput("invalid_suspension", "暂停信息有误，请按提示修改", fields)
        await Suspension(entitlement=entitlement_id, reason=reason, starts_on=starts_on,
                         created_at=clock.now(),
                         created_by=actor.id).save()
        await _bump(entitlement_id)
        await _change(actor, row, "suspended", row["state"], starts_on, reason, "clerk",
                      clock.today())
    return await get_entitlement(actor, entitlement_id)


async def resume(actor: Actor, entitlement_id: int, expected_version: int, *, resumes_on: date,
                 reason: str) -> dict[str, Any]:
    async with db.write_transaction():
        row = await _managed(actor, entitlement_id, expected_version, "恢复待遇")
        fields: dict[str, str] = {}
        reason = _reason(reason, fields)
        held = await Suspension.select().where((Suspension.entitlement == entitlement_id)
                                               & Suspension.resumes_on.is_null()).first()
        if held is None:
            raise Conflict("not_suspended", "这项待遇资格没有经办暂停，无需恢复"
                           "（住院引起的暂停在出院事件到达后自动恢复）")
        if resumes_on <= held["starts_on"]:
            fields["resumes_on"] = f"恢复日期必须晚于暂停日期 {held['starts_on'].isoformat()}"
        if fields:
            raise InvalidInput("invalid_resumption", "恢复信息有误，请按提示修改", fields)
        await Suspension.update({Suspension.resumes_on: resumes_on}).where(
            Suspension.id == held["id"])
        await _bump(entitlement_id)
        await _change(actor, row, "resumed", row["state"], resumes_on, reason, "clerk",
                      clock.today())
    return await get_entitlement(actor, entitlement_id)


async def end(actor: Actor, entitlement_id: int, expected_version: int, *, last_day: date,
              reason_code: str, note: str) -> dict[str, Any]:
    async with db.write_transaction():
        row = await _managed(actor, entitlement_id, expected_version, "终止待遇")
        fields: dict[str, str] = {}
        if reason_code not in CLERK_END_REASONS:
            fields["reason_code"] = "请选择终止原因"
        note = _reason(note, fields)
        if last_day < row["starts_on"] - timedelta(days=1):
            fields["last_day"] = "最后享受日不能早于待遇开始日期的前一天"
        if fields:
            raise InvalidInput("invalid_end", "终止信息有误，请按提示修改", fields)
        await _end(actor, row, last_day, reason_code, "clerk", clock.today(), note)
    return await get_entitlement(actor, entitlement_id)


async def _bump(entitlement_id: int) -> None:
    await Entitlement.update({Entitlement.version: Entitlement.version + 1}).where(
        Entitlement.id == entitlement_id)


# --- enrolment events ------------------------------------------------------------------

async def end_for_person(actor: Actor, person_id: int, last_day: date, reason: str,
                         source: str, today: date) -> int:
    """An ending event (death, enrolment ended, moved out): every entitlement of the person
    that would run past `last_day` ends on it. Returns how many were ended."""
    rows = await Entitlement.select().where(Entitlement.person == person_id)
    ended = 0
    for row in rows:
        facts = await facts_of(row)
        if facts.last_day > last_day:
            await _end(actor, row, last_day, reason, source, today)
            ended += 1
    return ended


async def hospital_changed(actor: Actor, person_id: int, kind: str, day: date, source: str,
                           today: date) -> int:
    """A hospital stay's admission or discharge changed the person's suspensions: record it
    on each entitlement in force that day and not ended (an ended one neither suspends nor
    resumes; its days are counted from the stays themselves)."""
    rows = await Entitlement.select().where(
        (Entitlement.person == person_id) & (Entitlement.state != str(EntitlementState.ENDED)))
    touched = 0
    for row in rows:
        facts = await facts_of(row)
        if day <= facts.last_day:
            await _change(actor, row, kind, row["state"], day,
                          "住院" if kind == "suspended" else "出院", source, today)
            touched += 1
    return touched


# --- reading -------------------------------------------------------------------------------

_LIST_COLUMNS = (
    Entitlement.id, Entitlement.grade, Entitlement.state, Entitlement.starts_on,
    Entitlement.expires_on, Entitlement.ends_on, Entitlement.end_reason,
    Entitlement.renewal_raised_on, Entitlement.person, Entitlement.person.name,
    Entitlement.person.resident_id, Entitlement.person.village.name, Entitlement.decision.number,
)


def _visible(actor: Actor):
    if actor.role not in (Role.clerk, Role.reviewer, Role.admin) and actor.role is not None:
        raise Forbidden("wrong_role", "您的角色不能查看待遇资格")
    return in_region(actor, Entitlement.region_path)


async def list_entitlements(actor: Actor, *, state: str = "", search: str = "",
                            renewal_due: bool = False, after_id: int = 0,
                            within: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Entitlements in the actor's region, by id (keyset: `after_id` is the last id shown);
    `search` and `within` (a town's or village's region path) find the person as the people
    search does."""
    query = Entitlement.select(*_LIST_COLUMNS).where(_visible(actor) & (Entitlement.id > after_id))
    if state:
        query = query.where(Entitlement.state == state)
    if renewal_due:
        query = query.where(Entitlement.renewal_raised_on.is_not_null()
                            & (Entitlement.state != str(EntitlementState.ENDED)))
    if (found := people.person_search(Entitlement.person, search, within)) is not None:
        query = query.where(found)
    rows = await query.order_by(Entitlement.id).limit(limit)
    for row in rows:
        row["grade_label"] = GRADE_LABELS[row["grade"]]
    return rows


async def get_entitlement(actor: Actor, entitlement_id: int) -> dict[str, Any]:
    row = await (
        Entitlement.select(Entitlement.all_columns(), *_LIST_COLUMNS[8:],
                           Entitlement.decision.decided_on, Entitlement.decision.id,
                           Entitlement.policy_version.version)
        .where((Entitlement.id == entitlement_id) & _visible(actor)).first())
    if row is None:
        raise _not_found(entitlement_id)
    row["grade_label"] = GRADE_LABELS[row["grade"]]
    row["history"] = await EntitlementChange.select().where(
        EntitlementChange.entitlement == entitlement_id).order_by(EntitlementChange.id)
    row["suspensions"] = await Suspension.select().where(
        Suspension.entitlement == entitlement_id).order_by(Suspension.starts_on)
    row["hospital_stays"] = await HospitalStay.select().where(
        HospitalStay.person == row["person"]).order_by(HospitalStay.id)
    row["open_suspension"] = next((s for s in row["suspensions"] if s["resumes_on"] is None),
                                  None)
    return row


async def letter_context(decision_id: int) -> dict[str, Any]:
    decision = await Decision.select(
        Decision.all_columns(), Decision.person.name, Decision.person.resident_id,
        Decision.application.number, Decision.application.created_at,
        Decision.policy_version.definition).where(Decision.id == decision_id).first()
    policy = parsed_definition(decision["policy_version.definition"])
    entitlement = await Entitlement.select(Entitlement.starts_on, Entitlement.expires_on).where(
        Entitlement.decision == decision_id).first()
    return {
        "decision": decision, "entitlement": entitlement,
        "person": {"name": decision["person.name"],
                   "resident_id_masked": mask_resident_id(decision["person.resident_id"])},
        "application": {"number": decision["application.number"],
                        "created_on": decision["application.created_at"].astimezone(
                            clock.CHINA).date()},
        "grade_label": GRADE_LABELS[decision["grade"]],
        "eligible_labels": "、".join(GRADE_LABELS[g] for g in policy.eligible_grades),
        "reapply_months": policy.reapply_months,
        "bureau": await issuer(policy, decision["region_path"]),
        "issued_on": decision["decided_on"],
    }


async def renewals_due(actor: Actor) -> int:
    """Entitlements whose re-assessment task is raised and not yet closed by a new decision."""
    return await Entitlement.count().where(
        Entitlement.renewal_raised_on.is_not_null()
        & (Entitlement.state != str(EntitlementState.ENDED)) & _visible(actor))
