"""Agreements (协议化管理, SPEC §1, issue 5 item 1): the agency's agreements with assessment
organisations, care providers, providers' service staff and family caregivers. A clerk drafts
one, activates it (its document is rendered after commit), suspends, resumes or terminates it;
the daily pass expires agreements past their end and reminds clerks 30 days before. An
ACTIVE agreement is amended from a day by its next version (`amend`, a 补充协议 rendered after
commit; see ltc.agreements.rules for what that means for cover and for payee accounts).

Other contexts ask `active_agreement(kind, on=…, organisation=/staff=/beneficiary=…)` whether
someone may be assigned, log a visit or be paid on a day, or filter many parties at once with
`covered_organisations(kind, on)` (the assessor draw); the answer follows
ltc.agreements.rules.covers."""

from __future__ import annotations

import json
import zlib
from datetime import date, timedelta
from typing import Any

from piccolo.columns.combination import Combination
from piccolo.query import Select

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.agreements.rules import (
    AMENDABLE,
    CHANGE_LABELS,
    FIELDS,
    NUMBER_PREFIX,
    ORGANISATION_KIND,
    QUALIFICATION_LABELS,
    REMINDER_DAYS,
    RUNNING,
    SEPARATED_KINDS,
    AgreementKind,
    AgreementState,
    Parties,
    agreement_problems,
    amendment_fields,
    amendment_number,
    amendment_problems,
    can_transition,
    change_text,
    changes,
    coverage,
    covers,
    due_to_expire,
    expired_change_day,
    normalised,
    overlaps,
    party_name,
    read_fields,
    reminder_due,
    separation_conflict,
)
from ltc.agreements.tables import Agreement
from ltc.audit import service as audit
from ltc.entitlements import interface as entitlements
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import SYSTEM, Actor, Role, in_region, region_covers, require_role
from ltc.jobs import outbox
from ltc.organisations import interface as organisations
from ltc.people import interface as people
from ltc.people.rules import mask_resident_id
from ltc.policy.rules import Policy
from ltc.policy.service import issuer, policy_in_force
from ltc.sanctions import interface as sanctions

MANAGE_ROLES = frozenset({Role.clerk})
READ_ROLES = frozenset({Role.clerk, Role.reviewer, Role.admin})
PAGE_SIZE = 50
RENDER_JOB = "agreements.render_document"
# The column naming the party of each kind: one agreement of a kind per party at a time.
_PARTY = {AgreementKind.assessment: Agreement.organisation,
          AgreementKind.provider: Agreement.organisation, AgreementKind.staff: Agreement.staff,
          AgreementKind.caregiver: Agreement.beneficiary}
_RUNNING = [str(s) for s in RUNNING]


def _kind(kind: str) -> AgreementKind:
    try:
        return AgreementKind(kind)
    except ValueError:
        raise InvalidInput("invalid_agreement", "请选择协议类型",
                           {"kind": "请选择协议类型：评估机构、护理服务机构、服务人员或家庭照护者"},
                           ) from None


# --- drafting ----------------------------------------------------------------------------

async def _organisation(actor: Actor, organisation_id: int | None) -> dict[str, Any] | None:
    if organisation_id is None:
        return None
    row = await organisations.by_id(organisation_id)
    if row is None or (actor.region_path and not region_covers(actor.region_path,
                                                                 row.region_path)):
        return None
    return {"id": row.id, "kind": row.kind, "active": row.active, "region.path": row.region_path}


async def _staff(staff_id: int | None) -> dict[str, Any] | None:
    if staff_id is None:
        return None
    staff = await accounts.staff_member(staff_id)
    return None if staff is None else {"id": staff.id, "role": staff.role,
                                       "organisation": staff.organisation_id,
                                       "active": staff.active}


async def _beneficiary(actor: Actor, person_id: int | None) -> dict[str, Any] | None:
    if person_id is None:
        return None
    person = await people.person_in_scope(actor, person_id)
    if person is None:
        return None
    return {"id": person.id, "resident_id": person.resident_id,
            "region_path": person.region_path,
            "entitled": await entitlements.has_running_entitlement(person_id)}


async def _register_account(organisation_id: int) -> dict[str, str] | None:
    """The organisation's account in the register, in full: what a confirmed agreement
    copies."""
    account = await organisations.payee_account_of(organisation_id)
    return None if account is None else {"bank_name": account.bank_name,
                                         "account_name": account.account_name,
                                         "account_no": account.account_no}


async def chosen_organisation(actor: Actor, kind: str, organisation_id: int | None,
                              ) -> int | None:
    """`organisation_id` when the clerk may name it in an agreement of `kind`: in their
    region and of the kind the agreement is with (a care provider for provider and staff
    agreements); None otherwise, and for a kind not made with an organisation."""
    wanted = ORGANISATION_KIND.get(kind)  # a StrEnum key: the text finds it
    organisation = await _organisation(actor, organisation_id) if wanted else None
    return organisation["id"] if organisation and organisation["kind"] == wanted else None


async def register_account(actor: Actor, organisation_id: int | None,
                           agreed: str = "") -> dict[str, Any] | None:
    """The register's account of a care provider the clerk may choose, as the forms show it
    for confirming: bank, holder and the number masked to its last four digits (the full
    number is shown to admins only, audited: ltc.organisations), and whether it is the
    account `agreed` (an agreement's). None without one, or for another region's or
    kind's organisation."""
    chosen = await chosen_organisation(actor, str(AgreementKind.provider), organisation_id)
    account = await organisations.payee_account_of(chosen) if chosen else None
    return None if account is None else {"bank_name": account.bank_name,
                                         "account_name": account.account_name,
                                         "account_masked": account.masked_no,
                                         "agreed": account.account_no == agreed}


async def _parties(actor: Actor, kind: AgreementKind, values: dict[str, Any],
                   current: dict[str, Any] | None = None) -> Parties:
    organisation = await _organisation(actor, values.get("organisation")) \
        if kind in ORGANISATION_KIND else None
    return Parties(
        organisation=organisation,
        staff=await _staff(values.get("staff")) if kind is AgreementKind.staff else None,
        beneficiary=await _beneficiary(actor, values.get("beneficiary"))
        if kind is AgreementKind.caregiver else None,
        register_account=await _register_account(organisation["id"])
        if organisation and kind is AgreementKind.provider else None,
        current=current)


async def create_agreement(actor: Actor, kind: str, **fields: Any) -> dict[str, Any]:
    """A DRAFT agreement of `kind` (assessment | provider | staff | caregiver). `fields` are
    those of ltc.agreements.rules.FIELDS[kind]: typed (dates, ids, fen) or a form's text.
    Every problem is reported at once and nothing is written."""
    require_role(actor, MANAGE_ROLES, "签订协议")
    agreement_kind = _kind(kind)
    today = clock.today()
    values, problems = read_fields(agreement_kind, fields)
    async with db.write_transaction():
        parties = await _parties(actor, agreement_kind, values)
        problems = agreement_problems(agreement_kind, values, parties, today, problems)
        if parties.organisation and (refused := await sanctions.signing_refusal(
                parties.organisation["id"], today)):
            problems["organisation"] = refused.message
        if problems:
            raise InvalidInput("invalid_agreement", "协议信息有误，请按提示修改", problems)
        stored = normalised(agreement_kind, values, parties)
        region_path = (parties.beneficiary["region_path"] if parties.beneficiary
                       else parties.organisation["region.path"])
        bed_day_rates = stored.pop("bed_day_rates", {})
        row = Agreement(
            **stored, kind=str(agreement_kind), region_path=region_path,
            number=await db.next_daily_number(Agreement.number, NUMBER_PREFIX, today),
            bed_day_rates=json.dumps({str(g): fen for g, fen in sorted(bed_day_rates.items())}),
            state=str(AgreementState.DRAFT), created_by=actor.id)
        await row.save()
        await audit.record(actor, "agreement.created", "agreement", row.id, after={
            "number": row.number, "kind": str(agreement_kind),
            "starts_on": stored["starts_on"].isoformat(),
            "ends_on": stored["ends_on"].isoformat(),
            **{name: stored[name] for name in ("organisation", "staff", "beneficiary",
                                               "account_source")
               if stored.get(name)}})
    return row.to_dict()


# --- transitions ---------------------------------------------------------------------------

def _not_found(agreement_id: int) -> NotFound:
    return NotFound("agreement_not_found", f"协议 {agreement_id} 不存在或不在您的管辖范围内")


async def _managed(actor: Actor, agreement_id: int, expected_version: int, doing: str, *,
                   source: tuple[AgreementState, ...], target: AgreementState) -> dict[str, Any]:
    """The agreement, checked: the clerk's role and region, the version they read, and that
    it is in one of the `source` states, from which the table allows `target`."""
    require_role(actor, MANAGE_ROLES, doing)
    row = await Agreement.select().where(
        (Agreement.id == agreement_id) & in_region(actor, Agreement.region_path)).first()
    if row is None:
        raise _not_found(agreement_id)
    if row["version"] != expected_version:
        raise db.StaleWrite(Agreement._meta.tablename, agreement_id)
    if row["state"] not in source or not can_transition(row["state"], target):
        state = AgreementState(row["state"])
        raise Conflict("wrong_state",
                       f"协议 {row['number']} 当前状态为“{state.label}”，不能{doing}")
    return row


async def _change(actor: Actor, row: dict[str, Any], action: str, values: dict[Any, Any],
                  note: str = "", **after: Any) -> dict[str, Any]:
    """Write the new state (compare-and-set on the version) and its audit event."""
    changed = await db.update_versioned(Agreement, row["id"], row["version"], values)
    await audit.record(actor, action, "agreement", row["id"], before={"state": row["state"]},
                       after={"state": changed["state"], **after}, note=note or None)
    return changed


async def _no_overlap(row: dict[str, Any], span: tuple[date, date]) -> None:
    """One agreement of a kind covers a party on any day: refuse a second one over `span`."""
    kind = AgreementKind(row["kind"])
    party = _PARTY[kind]
    if not db.is_sqlite():
        # Two clerks activating agreements for one party at once: one waits for the other
        # (SQLite's IMMEDIATE transaction already serialises writers).
        key = zlib.crc32(f"agreement:{kind}:{row[party._meta.name]}".encode())
        await Agreement.raw(f"SELECT pg_advisory_xact_lock({key})")
    others = await Agreement.select().where(
        (Agreement.kind == str(kind)) & (party == row[party._meta.name])
        & (Agreement.id != row["id"]) & (Agreement.state != str(AgreementState.DRAFT))
        & (Agreement.starts_on <= span[1]) & (Agreement.ends_on >= span[0]))
    clash = next((other for other in others if overlaps(span, other)), None)
    if clash is not None:
        raise Conflict("agreement_overlap", f"该{kind.label}已有协议 {clash['number']}"
                       f"（{clash['starts_on'].isoformat()} 至 {clash['ends_on'].isoformat()}）"
                       "在这段期间有效，同一期间只能有一份协议；请先终止原协议或调整期限")


async def _separated(row: dict[str, Any], span: tuple[date, date]) -> None:
    """An organisation is not both assessor and care provider over one period: refuse
    `row` coming into force over `span` while the same organisation holds an agreement of
    the other kind that covers any day of it, naming that agreement."""
    if AgreementKind(row["kind"]) not in SEPARATED_KINDS:
        return
    if not db.is_sqlite():
        # An assessment and a provider agreement of one organisation activated at once.
        key = zlib.crc32(f"agreement:separated:{row['organisation']}".encode())
        await Agreement.raw(f"SELECT pg_advisory_xact_lock({key})")
    others = await Agreement.select().where(
        (Agreement.organisation == row["organisation"]) & (Agreement.id != row["id"])
        & (Agreement.state != str(AgreementState.DRAFT))
        & (Agreement.starts_on <= span[1]) & (Agreement.ends_on >= span[0]))
    clash = separation_conflict(row["kind"], span, others)
    if clash is not None:
        theirs = AgreementKind(clash["kind"])
        raise Conflict("agreement_separation_conflict",
                       f"该机构已有{theirs.label}协议 {clash['number']}（"
                       f"{clash['starts_on'].isoformat()} 至 {clash['ends_on'].isoformat()}，"
                       f"{AgreementState(clash['state']).label}），与本协议期限重叠：评估机构不得"
                       "同时承担长护险护理服务（评估与服务相分离）；请先终止该协议或调整期限")


def _reason(reason: str, fields: dict[str, str], what: str) -> str:
    if not reason.strip():
        fields["reason"] = f"请填写{what}原因，它会记入协议的办理记录"
    elif len(reason.strip()) > 500:
        fields["reason"] = "原因请控制在500字以内"
    return reason.strip()


def _from_day(row: dict[str, Any], from_day: date | None, fields: dict[str, str],
              what: str) -> None:
    if from_day is None:
        fields["from_day"] = f"请选择{what}日期"
    elif not row["starts_on"] <= from_day <= row["ends_on"]:
        fields["from_day"] = (f"{what}日期应在协议期限内（{row['starts_on'].isoformat()} 至 "
                              f"{row['ends_on'].isoformat()}）")


async def _not_barred(row: dict[str, Any]) -> None:
    """An organisation whose legal representative is on the ban register (禁入名单) signs
    nothing new: no activation, no reinstatement after a suspension, no amendment."""
    if row["organisation"] and (refused := await sanctions.signing_refusal(
            row["organisation"], clock.today())):
        raise Conflict(refused.code, refused.message)


async def activate(actor: Actor, agreement_id: int, expected_version: int) -> dict[str, Any]:
    """DRAFT → ACTIVE (signed); the agreement document is rendered after commit."""
    async with db.write_transaction():
        row = await _managed(actor, agreement_id, expected_version, "生效",
                             source=(AgreementState.DRAFT,), target=AgreementState.ACTIVE)
        if due_to_expire(row["ends_on"], clock.today()):
            raise Conflict("agreement_ended", f"协议结束日期 {row['ends_on'].isoformat()} "
                           "已过，不能再生效；请重新签订协议")
        await _not_barred(row)
        await _no_overlap(row, (row["starts_on"], row["ends_on"]))
        await _separated(row, (row["starts_on"], row["ends_on"]))
        changed = await _change(actor, row, "agreement.activated",
                                {Agreement.state: str(AgreementState.ACTIVE)},
                                number=row["number"])
        await outbox.enqueue(RENDER_JOB, agreement_id)
    return changed


async def suspend(actor: Actor, agreement_id: int, expected_version: int, *, reason: str,
                  from_day: date | None) -> dict[str, Any]:
    """ACTIVE → SUSPENDED from `from_day` (it covers the days before only)."""
    async with db.write_transaction():
        row = await _managed(actor, agreement_id, expected_version, "暂停",
                             source=(AgreementState.ACTIVE,), target=AgreementState.SUSPENDED)
        fields: dict[str, str] = {}
        reason = _reason(reason, fields, "暂停")
        _from_day(row, from_day, fields, "暂停")
        if fields:
            raise InvalidInput("invalid_suspension", "暂停信息有误，请按提示修改", fields)
        return await _change(actor, row, "agreement.suspended", {
            Agreement.state: str(AgreementState.SUSPENDED), Agreement.state_reason: reason,
            Agreement.state_changed_on: from_day}, reason, from_day=from_day.isoformat())


async def resume(actor: Actor, agreement_id: int, expected_version: int, *,
                 reason: str = "") -> dict[str, Any]:
    """SUSPENDED → ACTIVE: the agreement covers its whole period again, the suspended days
    included (see ltc.agreements.rules)."""
    async with db.write_transaction():
        row = await _managed(actor, agreement_id, expected_version, "恢复",
                             source=(AgreementState.SUSPENDED,), target=AgreementState.ACTIVE)
        if due_to_expire(row["ends_on"], clock.today()):
            raise Conflict("agreement_ended", "协议期限已满，不能恢复；请重新签订协议")
        await _no_overlap(row, (row["starts_on"], row["ends_on"]))
        await _separated(row, (row["starts_on"], row["ends_on"]))
        return await _change(actor, row, "agreement.resumed", {
            Agreement.state: str(AgreementState.ACTIVE), Agreement.state_reason: reason.strip(),
            Agreement.state_changed_on: None}, reason.strip(),
            suspended_from=row["state_changed_on"].isoformat())


async def terminate(actor: Actor, agreement_id: int, expected_version: int, *, reason: str,
                    from_day: date | None) -> dict[str, Any]:
    """DRAFT / ACTIVE / SUSPENDED → TERMINATED (final). It covers the days before `from_day`
    (a suspended one no more than it did); a draft never covered anything."""
    async with db.write_transaction():
        row = await _managed(actor, agreement_id, expected_version, "终止",
                             source=(AgreementState.DRAFT, *RUNNING),
                             target=AgreementState.TERMINATED)
        fields: dict[str, str] = {}
        reason = _reason(reason, fields, "终止")
        if row["state"] == AgreementState.DRAFT:
            from_day = row["starts_on"]
        else:
            _from_day(row, from_day, fields, "终止")
        if fields:
            raise InvalidInput("invalid_termination", "终止信息有误，请按提示修改", fields)
        stopped = row["state_changed_on"]
        last_cover = from_day if stopped is None else min(stopped, from_day)
        return await _change(actor, row, "agreement.terminated", {
            Agreement.state: str(AgreementState.TERMINATED), Agreement.state_reason: reason,
            Agreement.state_changed_on: last_cover}, reason, from_day=last_cover.isoformat())


# What a next version (an amendment, a reinstatement) takes over from the version before.
_KEPT = ("kind", "region_path", "organisation", "staff", "qualification", "beneficiary",
         "caregiver_name", "caregiver_initials", "caregiver_resident_id", "caregiver_phone",
         "relationship", "bank_name", "bank_account", "bank_account_name", "account_source",
         "trained_on", "home_visits", "institutional_beds", "visit_rate_fen",
         "family_subsidy_fen")


async def _root(row: dict[str, Any]) -> tuple[int, str]:
    """The id and number of the original agreement of `row`'s chain of versions."""
    if row["root"] is None:
        return row["id"], row["number"]
    root = await Agreement.select(Agreement.number).where(Agreement.id == row["root"]).first()
    return row["root"], root["number"]


async def reinstate(actor: Actor, agreement_id: int, expected_version: int, *,
                    from_day: date, reason: str) -> dict[str, Any]:
    """The end of a suspension for a period (ltc.sanctions): SUSPENDED → TERMINATED, still
    covering only the days before the suspension, and its next version ACTIVE from
    `from_day` on the same terms — so the suspended days stay uncovered (resume would cover
    them again). Returns the new version."""
    async with db.write_transaction():
        row = await _managed(actor, agreement_id, expected_version, "恢复",
                             source=(AgreementState.SUSPENDED,),
                             target=AgreementState.TERMINATED)
        await _not_barred(row)
        stopped = row["state_changed_on"]
        if not stopped < from_day <= row["ends_on"]:
            raise Conflict("wrong_day", f"恢复日期应在暂停开始（{stopped.isoformat()}）之后、"
                           f"协议结束（{row['ends_on'].isoformat()}）之前")
        root_id, root_number = await _root(row)
        amendment_no = row["amendment_no"] + 1
        await _change(actor, row, "agreement.terminated", {
            Agreement.state: str(AgreementState.TERMINATED), Agreement.state_reason: reason,
            Agreement.state_changed_on: stopped}, reason, from_day=stopped.isoformat())
        new = Agreement(
            **{name: row[name] for name in _KEPT}, bed_day_rates=row["bed_day_rates"],
            ends_on=row["ends_on"], number=amendment_number(root_number, amendment_no),
            starts_on=from_day, state=str(AgreementState.ACTIVE), root=root_id,
            amendment_no=amendment_no, amendment_reason=reason, created_by=actor.id)
        await new.save()
        await _no_overlap({**row, "id": new.id}, (from_day, new.ends_on))
        await audit.record(actor, "agreement.reinstated", "agreement", new.id, after={
            "number": new.number, "reinstates": row["number"],
            "suspended_from": stopped.isoformat(), "from_day": from_day.isoformat()},
            note=reason)
        await outbox.enqueue(RENDER_JOB, new.id)  # its supplement (补充协议) states why
    return new.to_dict()


async def amend(actor: Actor, agreement_id: int, expected_version: int, *,
                effective_from: date | None, reason: str, **raw: Any) -> dict[str, Any]:
    """ACTIVE → AMENDED from `effective_from`, and its next version ACTIVE from that day with
    the changed terms (`raw`: fields of rules.AMENDABLE[kind], typed or a form's text; the
    rest stay as they are). The supplement (补充协议) is rendered after commit. Every problem
    at once, nothing written. Returns the new version."""
    async with db.write_transaction():
        row = await _managed(actor, agreement_id, expected_version, "变更",
                             source=(AgreementState.ACTIVE,), target=AgreementState.AMENDED)
        await _not_barred(row)
        kind = AgreementKind(row["kind"])
        current = await get_agreement(actor, agreement_id)
        values, problems = read_fields(kind, amendment_fields(kind, current, raw))
        parties = await _parties(actor, kind, values, current)
        # The terms that stay were checked when the agreement was signed: only what may
        # change is checked again (a party's state then does not block new rates).
        fixed = set(FIELDS[kind]) - set(AMENDABLE[kind])
        problems = {field: problem for field, problem in agreement_problems(
            kind, values, parties, clock.today(), problems).items() if field not in fixed}
        stored = normalised(kind, values, parties) if not problems else values
        changed = changes(kind, current, stored)
        amendment_problems(current, effective_from, values, changed, reason, problems)
        if problems:
            raise InvalidInput("invalid_amendment", "协议变更信息有误，请按提示修改", problems)
        root_id, root_number = await _root(row)
        amendment_no = row["amendment_no"] + 1
        await _change(actor, row, "agreement.amended", {
            Agreement.state: str(AgreementState.AMENDED), Agreement.state_reason: reason.strip(),
            Agreement.state_changed_on: effective_from}, reason.strip(),
            from_day=effective_from.isoformat(), changed=sorted(changed))
        bed_day_rates = stored.pop("bed_day_rates", {})
        kept = {name: row[name] for name in _KEPT}
        amended = {name: stored[name] for name in AMENDABLE[kind] if name in stored
                   and name not in ("confirmed_account", "bed_day_rates")}
        if kind is AgreementKind.provider:
            amended["bank_account_name"] = stored["bank_account_name"]
        new = Agreement(
            **{**kept, **amended}, number=amendment_number(root_number, amendment_no),
            bed_day_rates=json.dumps({str(g): fen for g, fen in sorted(bed_day_rates.items())})
            if kind is AgreementKind.provider else row["bed_day_rates"],
            starts_on=effective_from, state=str(AgreementState.ACTIVE), root=root_id,
            amendment_no=amendment_no, amendment_reason=reason.strip(), created_by=actor.id)
        await new.save()
        span = (effective_from, new.ends_on)
        await _no_overlap({**row, "id": new.id}, span)
        await _separated({**row, "id": new.id}, span)
        await audit.record(actor, "agreement.amendment_signed", "agreement", new.id, after={
            "number": new.number, "amends": row["number"],
            "effective_from": effective_from.isoformat(),
            "changes": {name: [change_text(name, before), change_text(name, after)]
                        for name, (before, after) in changed.items()}}, note=reason.strip())
        await outbox.enqueue(RENDER_JOB, new.id)
    return new.to_dict()


# --- the daily pass --------------------------------------------------------------------------

async def daily(today: date) -> dict[str, int]:
    """Expire running agreements whose last day has passed (catching up missed days), then
    remind clerks once of each running agreement ending within REMINDER_DAYS days.
    Idempotent: an expired agreement is not expired again, a reminder is recorded once."""
    counts = {"expired": 0, "reminded": 0}
    due = await Agreement.select(Agreement.id).where(
        Agreement.state.is_in(_RUNNING) & (Agreement.ends_on < today)).order_by(Agreement.id)
    for agreement in due:
        try:
            counts["expired"] += await _expire(agreement["id"], today)
        except db.StaleWrite:
            continue  # a clerk changed it meanwhile: the next pass looks again
    soon = await Agreement.select(Agreement.id, Agreement.ends_on).where(
        _expiring(today) & Agreement.reminded_on.is_null()).order_by(Agreement.id)
    for agreement in soon:
        if reminder_due(agreement["ends_on"], today):
            counts["reminded"] += await _remind(agreement["id"], today)
    return counts


async def _expire(agreement_id: int, today: date) -> int:
    async with db.write_transaction():
        row = await Agreement.select().where(Agreement.id == agreement_id).first()
        if row["state"] not in _RUNNING or not due_to_expire(row["ends_on"], today):
            return 0
        await _change(SYSTEM, row, "agreement.expired", {
            Agreement.state: str(AgreementState.EXPIRED),
            Agreement.state_changed_on: expired_change_day(row)},
            f"协议期限已于 {row['ends_on'].isoformat()} 届满", ends_on=row["ends_on"].isoformat())
    return 1


async def _remind(agreement_id: int, today: date) -> int:
    async with db.write_transaction():
        # A conditional update: of two schedulers, only the first records the reminder.
        won = await Agreement.update({Agreement.reminded_on: today}).where(
            (Agreement.id == agreement_id) & Agreement.reminded_on.is_null()
            & Agreement.state.is_in(_RUNNING)).returning(Agreement.ends_on)
        if not won:
            return 0
        ends_on = won[0]["ends_on"]
        await audit.record(SYSTEM, "agreement.expiry_reminder", "agreement", agreement_id,
                           after={"ends_on": ends_on.isoformat()},
                           note=f"协议将于 {ends_on.isoformat()} 到期，请及时办理续签或终止")
    return 1


# --- who is covered on a day ----------------------------------------------------------------

def covering(kind: str, on: date) -> Combination:
    """Agreements of `kind` covering day `on`: ltc.agreements.rules.covers as a WHERE clause,
    for set-based checks over many parties at once."""
    return ((Agreement.kind == str(AgreementKind(kind)))
            & (Agreement.state != str(AgreementState.DRAFT))
            & (Agreement.starts_on <= on) & (Agreement.ends_on >= on)
            & ((Agreement.state == str(AgreementState.ACTIVE))
               | Agreement.state_changed_on.is_null() | (Agreement.state_changed_on > on)))


def covered_organisations(kind: str, on: date) -> Select:
    """A subquery for `Column.is_in`: the organisations with an agreement of `kind` (an
    assessment or provider agreement) covering day `on`."""
    return Agreement.select(Agreement.organisation).where(
        covering(kind, on) & Agreement.organisation.is_not_null())


async def active_agreement(kind: str, *, on: date, organisation: int | None = None,
                           staff: int | None = None,
                           beneficiary: int | None = None) -> dict[str, Any] | None:
    """The agreement of `kind` covering day `on` for the party named (organisation for
    assessment and provider agreements, staff — optionally with its organisation — for staff
    agreements, beneficiary for caregiver agreements), or None. Any state but DRAFT can
    answer for a past day (see ltc.agreements.rules.covers). No actor: other contexts' rules
    ask this, and the caller scopes what it shows."""
    agreement_kind = AgreementKind(kind)
    parties = {Agreement.organisation: organisation, Agreement.staff: staff,
               Agreement.beneficiary: beneficiary}
    named = {column: value for column, value in parties.items() if value is not None}
    if not named:
        raise ValueError("active_agreement needs organisation, staff or beneficiary")
    query = Agreement.select().where(covering(agreement_kind, on))
    for column, value in named.items():
        query = query.where(column == value)
    return await query.order_by(Agreement.id, ascending=False).first()


async def running_of(organisation_id: int, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """The organisation's ACTIVE or SUSPENDED agreements of `kinds` (for sanctions and a
    provider's exit: ltc.sanctions), oldest first."""
    return await Agreement.select().where(
        (Agreement.organisation == organisation_id) & Agreement.kind.is_in(list(kinds))
        & Agreement.state.is_in([str(s) for s in RUNNING])).order_by(Agreement.id)


async def staff_qualification(staff_user_id: int, on: date) -> str | None:
    """`nurse` or `care_worker` from the staff agreement covering `on`; None without one."""
    row = await active_agreement(str(AgreementKind.staff), on=on, staff=staff_user_id)
    return row["qualification"] if row else None


# --- reading -------------------------------------------------------------------------------

_LIST_COLUMNS = (
    Agreement.id, Agreement.number, Agreement.kind, Agreement.state, Agreement.starts_on,
    Agreement.ends_on, Agreement.state_changed_on, Agreement.reminded_on,
    Agreement.qualification, Agreement.caregiver_name, Agreement.organisation.name,
    Agreement.staff.display_name, Agreement.beneficiary.name,
)


def _visible(actor: Actor):
    require_role(actor, READ_ROLES, "查看协议")
    return in_region(actor, Agreement.region_path)


def _expiring(today: date):
    return (Agreement.state.is_in(_RUNNING) & (Agreement.ends_on >= today)
            & (Agreement.ends_on <= today + timedelta(days=REMINDER_DAYS)))


def _labelled(row: dict[str, Any]) -> dict[str, Any]:
    row["party"] = party_name(row)
    row["kind_label"] = AgreementKind(row["kind"]).label
    row["state_label"] = AgreementState(row["state"]).label
    row["qualification_label"] = QUALIFICATION_LABELS.get(row["qualification"], "")
    return row


async def list_agreements(actor: Actor, *, kind: str = "", state: str = "", search: str = "",
                          expiring: bool = False, after_id: int = 0, within: str | None = None,
                          limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Agreements in the actor's region (and in the place whose region path is `within`,
    when given), by id (keyset: pass the last id seen as `after_id`). `search`: number,
    organisation, staff name, caregiver name or pinyin initials, or the beneficiary as the
    people search finds them (name, initials, ID, phone; the ID's last four within a
    place)."""
    query = Agreement.select(*_LIST_COLUMNS).where(_visible(actor) & (Agreement.id > after_id))
    if kind:
        query = query.where(Agreement.kind == kind)
    if state:
        query = query.where(Agreement.state == state)
    if expiring:
        query = query.where(_expiring(clock.today()))
    if text := search.strip():
        condition = (
            Agreement.number.like(text.upper() + "%") | db.contains(Agreement.organisation.name,
                                                                    text)
            | db.contains(Agreement.staff.display_name, text)
            | Agreement.caregiver_name.like(text + "%")
            | Agreement.caregiver_initials.like(text.lower() + "%"))
        if (people_found := people.ids_matching(text, within)) is not None:
            condition = condition | Agreement.beneficiary.is_in(people_found)
        query = query.where(condition)
    if within:
        query = query.where((Agreement.region_path == within)
                            | Agreement.region_path.like(within + "/%"))
    rows = await query.order_by(Agreement.id).limit(max(1, min(limit, 200)))
    return [_labelled(row) for row in rows]


async def get_agreement(actor: Actor, agreement_id: int) -> dict[str, Any]:
    row = await Agreement.select(
        Agreement.all_columns(), *_LIST_COLUMNS[10:], Agreement.staff.username,
        Agreement.created_by.display_name, Agreement.beneficiary.resident_id).where(
        (Agreement.id == agreement_id) & _visible(actor)).first()
    if row is None:
        raise _not_found(agreement_id)
    row["bed_day_rates"] = {int(g): fen for g, fen in json.loads(row["bed_day_rates"]).items()}
    row["covers_today"] = covers(row, clock.today())
    row["versions"] = await _versions(row["root"] or row["id"])
    row["amendable"] = AMENDABLE[AgreementKind(row["kind"])]
    return _labelled(row)


async def _versions(root_id: int) -> list[dict[str, Any]]:
    """The chain of an agreement: the original and its amendments, oldest first."""
    rows = await Agreement.select(
        Agreement.id, Agreement.number, Agreement.amendment_no, Agreement.state,
        Agreement.starts_on, Agreement.ends_on, Agreement.state_changed_on,
        Agreement.amendment_reason, Agreement.document_sha256).where(
        (Agreement.id == root_id) | (Agreement.root == root_id)).order_by(Agreement.amendment_no)
    for version in rows:
        version["state_label"] = AgreementState(version["state"]).label
        version["cover"] = coverage(version)
    return rows


async def expiring_soon_count(actor: Actor) -> int:
    """Running agreements in the actor's region ending within REMINDER_DAYS days: for the
    clerk's inbox."""
    return await Agreement.count().where(_visible(actor) & _expiring(clock.today()))


# --- choices for the new-agreement form -----------------------------------------------------

async def organisation_choices(actor: Actor, kind: str) -> list[organisations.OrganisationRef]:
    """Active organisations of the kind an agreement of `kind` is with, in the region."""
    wanted = ORGANISATION_KIND.get(AgreementKind(kind))
    if wanted is None:
        return []
    return await organisations.active_of_kind(actor, wanted)


async def staff_choices(actor: Actor, organisation_id: int | None,
                        ) -> list[accounts.StaffMember]:
    """The provider-role users of one care provider the clerk may choose."""
    chosen = await chosen_organisation(actor, str(AgreementKind.staff), organisation_id)
    return await accounts.active_staff_of(chosen) if chosen else []


async def beneficiary_choices(actor: Actor, q: str = "", person_id: int | None = None,
                              limit: int = 20) -> list[entitlements.EntitledPerson]:
    """People in the region with a running entitlement, matching the search box (name,
    pinyin initials, ID, phone) or one person by id."""
    require_role(actor, MANAGE_ROLES, "签订家庭照护协议")
    return await entitlements.entitled_people(actor, q, person_id, limit)


async def policy_defaults(actor: Actor) -> Policy | None:
    """The policy in force today in the actor's region: the rates an agreement falls back to
    (shown next to the rate inputs). None when no version is in force."""
    try:
        return (await policy_in_force(actor.region_path or "", clock.today())).policy
    except Conflict:
        return None


# --- the document --------------------------------------------------------------------------

async def document_context(agreement_id: int) -> dict[str, Any]:
    """What the agreement document shows: stored values, the policy version in force on
    the first day (versions never change) and the bureau's contact (policy.service.issuer),
    so rendering it again gives the same bytes."""
    row = await get_agreement(SYSTEM, agreement_id)
    in_force = await policy_in_force(row["region_path"], row["starts_on"])
    policy = in_force.policy
    return {
        "agreement": row,
        "policy": {"visit_rate_fen": policy.visit_rate_fen,
                   "family_subsidy_fen": policy.family_subsidy_fen,
                   "bed_day_rate_fen": policy.bed_day_rate_fen,
                   "eligible_grades": policy.eligible_grades},
        "grade_labels": {grade: GRADE_LABELS[grade] for grade in policy.eligible_grades},
        # Only masked IDs reach the renderer (and so the stored document).
        "masked": {"caregiver_resident_id": mask_resident_id(row["caregiver_resident_id"] or ""),
                   "beneficiary_resident_id": mask_resident_id(
                       row["beneficiary.resident_id"] or "")},
        "bureau": await issuer(policy, row["region_path"]),
        "issued_on": row["created_at"].astimezone(clock.CHINA).date(),
        "amendment": await _amendment_context(row),
    }


async def _amendment_context(row: dict[str, Any]) -> dict[str, Any] | None:
    """What a supplement (补充协议) states: the version it amends and each change, from
    stored rows only (the previous version never changes once AMENDED)."""
    if row["root"] is None:
        return None
    previous = next(v for v in row["versions"] if v["amendment_no"] == row["amendment_no"] - 1)
    before = await get_agreement(SYSTEM, previous["id"])
    return {"previous_number": previous["number"], "root_number": row["versions"][0]["number"],
            "changes": [{"label": CHANGE_LABELS[name], "before": change_text(name, old),
                         "after": change_text(name, new)}
                        for name, (old, new) in changes(AgreementKind(row["kind"]), before,
                                                        row).items()]}
