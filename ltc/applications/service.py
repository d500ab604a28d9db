"""Use cases for applications (申请): one function per transition, each checking the actor's
role and the current state, writing the new state and its audit event in one transaction.

State changes are compare-and-set on `version` (db.update_versioned): two clerks acting on
one application at once — the second gets StaleWrite (HTTP 409) and nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from piccolo.columns.combination import Where, WhereRaw

from ltc import clock, db
from ltc.applications.reference import acceptance_policy, materials_checklist
from ltc.applications.rules import (
    APPLICANT_RELATIONS,
    NUMBER_PREFIX,
    OPEN_STATES,
    AcceptanceFacts,
    ApplicationState,
    Ground,
    RefusalGround,
    can_move,
    missing_materials,
    refusal_grounds,
    refusal_while_waiting_problem,
    unknown_materials,
)
from ltc.applications.tables import Application
from ltc.assessments import interface as assessments
from ltc.assessments.cancellation import cancel_open_of_application
from ltc.audit import service as audit
from ltc.enrollment.gateway import EnrollmentCheck, EnrollmentGateway, configured_gateway
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, ActorKind, Role, in_region, require_role
from ltc.jobs import outbox
from ltc.people import interface as people_interface
from ltc.people.rules import InvalidPhone, mask_resident_id, name_problem, normalise_phone

# Who may act. Providers file on a person's behalf (SPEC §1: "a medical institution applies
# for them at home") and hand the application in; only the agency's clerks decide.
CREATE_ROLES = frozenset({Role.clerk, Role.provider})
SUBMIT_ROLES = frozenset({Role.clerk, Role.provider})
DECIDE_ROLES = frozenset({Role.clerk})
READ_ROLES = frozenset({Role.clerk, Role.reviewer, Role.admin, Role.provider, Role.assessor})

NOTE_MAX_LENGTH = 1000
MAX_PAGE = 200


def _is_system(actor: Actor) -> bool:
    return actor.kind == ActorKind.system


def _visible(actor: Actor) -> Where | WhereRaw:
    """Applications the actor may see: their region, and for providers only those filed by
    their organisation, for assessors only those assigned to them."""
    where = in_region(actor, Application.region_path)
    if _is_system(actor):
        return where
    if actor.role == Role.provider:
        return where & (Application.on_behalf_of == actor.organisation_id)
    if actor.role == Role.assessor:
        return where & Application.id.is_in(assessments.applications_assigned_to(actor.id))
    return where


_COLUMNS = (
    *Application.all_columns(),
    Application.person.name, Application.person.name_initials, Application.person.resident_id,
    Application.person.phone, Application.person.birth_date, Application.person.sex,
    Application.person.address,
    Application.person.region_path, Application.person.village.name,
    Application.on_behalf_of.name,
)


def shaped(row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns decoded, the resident ID masked, the state's label added."""
    result = dict(row)
    result["person.resident_id_masked"] = mask_resident_id(result.pop("person.resident_id"))
    result["materials"] = json.loads(row["materials"])
    result["refusal_grounds"] = json.loads(row["refusal_grounds"])
    result["materials_requested"] = json.loads(row["materials_requested"])
    result["state_label"] = ApplicationState(row["state"]).label
    return result


async def load_visible(actor: Actor, application_id: int) -> dict[str, Any]:
    row = await Application.select(*_COLUMNS).where(
        (Application.id == application_id) & _visible(actor)).first()
    if row is None:
        raise NotFound("application_not_found",
                       f"申请 {application_id} 不存在或不在您的管辖范围内")
    return row


def check_transition(row: dict[str, Any], to: ApplicationState, doing: str,
                     expected_version: int, source: ApplicationState | None = None) -> None:
    """Wrong state is a Conflict naming the current state; a stale form is StaleWrite.
    `source`: the one state this transition leaves (when several lead to `to`)."""
    current = ApplicationState(row["state"])
    if not can_move(current, to) or (source is not None and current != source):
        raise Conflict("wrong_state",
                       f"申请 {row['number']} 当前状态为“{current.label}”，不能{doing}")
    if row["version"] != expected_version:
        raise db.StaleWrite(Application._meta.tablename, row["id"])


def parse_date(value: date | str | None, label: str, field: str,
                fields: dict[str, str]) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not text:
        fields[field] = f"请填写{label}"
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fields[field] = f"{label}“{text}”不是有效日期，请写成 YYYY-MM-DD，例如 2026-01-01"
        return None


def checked_phone(value: str | None, field: str, fields: dict[str, str]) -> str:
    try:
        return normalise_phone(value or "")
    except InvalidPhone as exc:
        fields[field] = str(exc)
        return ""


def checked_materials(codes: Iterable[str] | None, fields: dict[str, str]) -> list[str]:
    """Known codes in checklist order, without repeats; unknown codes are a field problem."""
    codes = [c.strip() for c in (codes or []) if c and c.strip()]
    checklist = materials_checklist()
    if unknown := unknown_materials(checklist, codes):
        fields["materials"] = "未知的材料编码：" + "、".join(unknown) + "，请从材料清单中勾选"
    have = set(codes)
    return [m.code for m in checklist if m.code in have]


def checked_details(
    fields: dict[str, str], *, applicant_name: str, applicant_relation: str,
    applicant_phone: str, agent_name: str | None, agent_phone: str | None,
    disabled_since: date | str | None, materials: Iterable[str] | None,
    birth_date: date | None = None,
) -> dict[str, Any]:
    """The application's own fields checked, each problem added to `fields` (so a form
    shows them all at once, even when the person is not yet known); the cleaned values."""
    if problem := name_problem(applicant_name, "申请人姓名"):
        fields["applicant_name"] = problem
    relation = (applicant_relation or "").strip()
    if relation not in APPLICANT_RELATIONS:
        fields["applicant_relation"] = "请选择申请人与被评估人的关系：" + "、".join(
            APPLICANT_RELATIONS)
    phone = checked_phone(applicant_phone, "applicant_phone", fields)
    agent = (agent_name or "").strip() or None
    agent_tel = None
    if agent or (agent_phone or "").strip():
        if problem := name_problem(agent or "", "代办人姓名"):
            fields["agent_name"] = problem
        agent_tel = checked_phone(agent_phone, "agent_phone", fields)
    since = parse_date(disabled_since, "失能开始日期", "disabled_since", fields)
    if since and since > clock.today():
        fields["disabled_since"] = "失能开始日期不能晚于今天"
    elif since and birth_date and since < birth_date:
        fields["disabled_since"] = "失能开始日期不能早于出生日期"
    return {"relation": relation, "phone": phone, "agent": agent, "agent_tel": agent_tel,
            "since": since, "codes": checked_materials(materials, fields)}


async def create_application(
    actor: Actor,
    *,
    person_id: int,
    applicant_name: str,
    applicant_relation: str,
    applicant_phone: str,
    agent_name: str | None = None,
    agent_phone: str | None = None,
    disabled_since: date | str,
    materials: Iterable[str],
) -> dict[str, Any]:
    """A DRAFT application for a person in the actor's region. A provider files on the
    person's behalf: the application then belongs to the provider's organisation."""
    require_role(actor, CREATE_ROLES, "登记申请")
    if actor.kind != ActorKind.user:
        # created_by names a user; tokens and jobs file through a user's account.
        raise InvalidInput("user_required", "申请须由经办员或护理机构人员以本人账号登记")
    fields: dict[str, str] = {}
    person = await people_interface.person_in_scope(actor, person_id)
    if person is None:
        fields["person_id"] = "人员不存在或不在您的管辖范围内，请先查找或登记此人"
    details = checked_details(
        fields, applicant_name=applicant_name, applicant_relation=applicant_relation,
        applicant_phone=applicant_phone, agent_name=agent_name, agent_phone=agent_phone,
        disabled_since=disabled_since, materials=materials,
        birth_date=person.birth_date if person else None)
    if fields:
        raise InvalidInput("invalid_application", "申请信息有误，请按提示修改", fields)
    assert person is not None
    relation, phone, agent, agent_tel = (details["relation"], details["phone"],
                                         details["agent"], details["agent_tel"])
    since, codes, today = details["since"], details["codes"], clock.today()

    async with db.write_transaction():
        open_one = await Application.select(Application.number, Application.state).where(
            (Application.person == person_id)
            & Application.state.is_in([str(s) for s in OPEN_STATES])).first()
        if open_one:
            raise Conflict(
                "application_open",
                f"{person.name}已有一份办理中的申请（{open_one['number']}，"
                f"{ApplicationState(open_one['state']).label}），请在该申请上继续办理",
                {"person_id": "此人已有办理中的申请"})
        number = await db.next_daily_number(Application.number, NUMBER_PREFIX, today)
        application = Application(
            number=number, person=person_id, region_path=person.region_path,
            state=str(ApplicationState.DRAFT), applicant_name=applicant_name.strip(),
            applicant_relation=relation, applicant_phone=phone, agent_name=agent,
            agent_phone=agent_tel,
            on_behalf_of=actor.organisation_id if actor.role == Role.provider else None,
            disabled_since=since, materials=json.dumps(codes), created_by=actor.id,
        )
        await application.save()
        await audit.record(actor, "application.created", "application", application.id,
                           after={"number": number, "person": person_id, "state": "DRAFT",
                                  "materials": codes, "on_behalf_of": application.on_behalf_of})
    return shaped(await load_visible(actor, application.id))


async def write_transition(
    actor: Actor, row: dict[str, Any], expected_version: int, to: ApplicationState,
    action: str, values: dict[Any, Any] | None = None, *, after: dict[str, Any] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Write the new state (compare-and-set) and its audit event; call inside a transaction."""
    await db.update_versioned(Application, row["id"], expected_version,
                              {Application.state: str(to), **(values or {})})
    await audit.record(actor, action, "application", row["id"],
                       before={"state": row["state"]},
                       after={"state": str(to), **(after or {})}, note=note)
    return shaped(await load_visible(actor, row["id"]))


async def submit_application(
    actor: Actor, application_id: int, expected_version: int
) -> dict[str, Any]:
    """DRAFT → SUBMITTED: the application is handed to the agency."""
    require_role(actor, SUBMIT_ROLES, "提交申请")
    async with db.write_transaction():
        row = await load_visible(actor, application_id)
        check_transition(row, ApplicationState.SUBMITTED, "提交", expected_version,
                         source=ApplicationState.DRAFT)
        return await write_transition(
            actor, row, expected_version, ApplicationState.SUBMITTED, "application.submitted",
            {Application.submitted_at: clock.now()})


async def update_materials(
    actor: Actor, application_id: int, expected_version: int, materials: Iterable[str]
) -> dict[str, Any]:
    """Record the materials handed in so far (before the acceptance decision): the applicant
    brings the missing ones after being told all of them at once."""
    require_role(actor, SUBMIT_ROLES, "修改申请材料")
    fields: dict[str, str] = {}
    codes = checked_materials(materials, fields)
    if fields:
        raise InvalidInput("invalid_application", "申请材料有误，请按提示修改", fields)
    async with db.write_transaction():
        row = await load_visible(actor, application_id)
        editable = {ApplicationState.DRAFT} if actor.role == Role.provider else {
            ApplicationState.DRAFT, ApplicationState.SUBMITTED}
        if ApplicationState(row["state"]) not in editable:
            raise Conflict("wrong_state", f"申请 {row['number']} 当前状态为“"
                           f"{ApplicationState(row['state']).label}”，不能修改材料")
        await db.update_versioned(Application, application_id, expected_version,
                                  {Application.materials: json.dumps(codes)})
        await audit.record(actor, "application.materials_updated", "application",
                           application_id, before={"materials": json.loads(row["materials"])},
                           after={"materials": codes})
    return shaped(await load_visible(actor, application_id))


async def _grounds(
    actor: Actor, row: dict[str, Any], check: EnrollmentCheck, today: date
) -> list[RefusalGround]:
    policy = await acceptance_policy(row["region_path"], today)
    facts = AcceptanceFacts(
        today=today,
        enrolled=None if check.unknown else check.enrolled,
        not_enrolled_reason=check.reason,
        insured_region_code=check.region_code,
        pooling_region_code=row["region_path"].split("/")[0],
        person_region_path=row["person.region_path"],
        handling_region_path=actor.region_path,
        disabled_since=row["disabled_since"],
        checklist=materials_checklist(),
        materials=tuple(json.loads(row["materials"])),
        has_agent=bool(row["agent_name"]),
        last_conclusion_on=await assessments.last_conclusion_on(
            row["person"], other_than_application=row["id"]),
    )
    return refusal_grounds(facts, policy)


ENROLMENT_UNKNOWN = ("参保状态暂无法查询，请稍后重试：医保参保系统暂时无法连接，"
                     "申请未作任何更改")


async def _enrolment(row: dict[str, Any], gateway: EnrollmentGateway | None,
                     today: date) -> EnrollmentCheck:
    person = await people_interface.person_by_id(row["person"])
    assert person is not None  # an application's person is never deleted
    return await (gateway or configured_gateway()).check(person.resident_id, today)


async def acceptance_check(
    actor: Actor, application_id: int, gateway: EnrollmentGateway | None = None,
    today: date | None = None,
) -> list[RefusalGround]:
    """The refusal grounds that hold now, without changing anything (for the clerk's page)."""
    require_role(actor, DECIDE_ROLES, "审查申请")
    today = today or clock.today()
    row = await load_visible(actor, application_id)
    return await _grounds(actor, row, await _enrolment(row, gateway, today), today)


async def accept_application(
    actor: Actor, application_id: int, expected_version: int,
    gateway: EnrollmentGateway | None = None, today: date | None = None,
) -> dict[str, Any]:
    """SUBMITTED → ACCEPTED (受理) when no refusal ground holds. Otherwise InvalidInput
    `refusal_grounds_apply` lists every ground (fields: ground code → what to do) and
    nothing changes; the clerk then rejects with those grounds. When the enrolment system
    cannot be asked, Conflict `enrolment_unknown` and nothing changes: unknown is not "not
    enrolled", and nobody is accepted unchecked either."""
    require_role(actor, DECIDE_ROLES, "受理申请")
    today = today or clock.today()
    row = await load_visible(actor, application_id)
    check_transition(row, ApplicationState.ACCEPTED, "受理", expected_version)
    # Outside the transaction: the gateway may be a remote call, and no write lock should be
    # held while it runs. The compare-and-set below catches any change made meanwhile.
    check = await _enrolment(row, gateway, today)
    if check.unknown:
        raise Conflict("enrolment_unknown", ENROLMENT_UNKNOWN)
    if grounds := await _grounds(actor, row, check, today):
        raise InvalidInput(
            "refusal_grounds_apply",
            f"申请 {row['number']} 存在{len(grounds)}项不予受理的情形，请逐项核对；"
            "确不符合条件的，请作不予受理处理并告知申请人",
            {g.code: g.message for g in grounds})
    async with db.write_transaction():
        return await write_transition(
            actor, row, expected_version, ApplicationState.ACCEPTED, "application.accepted",
            {Application.decided_at: clock.now(), Application.accepted_at: clock.now(),
             Application.refusal_grounds: "[]"},
            after={"enrolment": check.as_dict()})


def _ground_details(codes: list[str], row: dict[str, Any],
                   found: list[RefusalGround]) -> list[dict[str, str]]:
    """Each chosen ground with what it means for this applicant, as the letter prints it:
    the rule's own finding when the rules see the ground (e.g. when one may apply again),
    the ground's name when only the clerk can (e.g. a forged document)."""
    messages = {g.code: g.message for g in found}
    details = []
    for code in codes:
        detail = messages.get(code, Ground(code).label)
        if code == Ground.materials_incomplete:
            names = {m.code: m.name for m in materials_checklist()}
            if row["state"] == ApplicationState.SUPPLEMENT:
                detail = (f"未在补正期限（{row['materials_due_on'].isoformat()}）内补交以下材料："
                          + "、".join(names[c] for c in json.loads(row["materials_requested"])))
            elif missing := missing_materials(materials_checklist(),
                                              json.loads(row["materials"]),
                                              bool(row["agent_name"])):
                detail = "缺少以下材料：" + "、".join(m.name for m in missing)
        details.append({"code": code, "detail": detail})
    return details


REFUSAL_LETTER_JOB = "applications.render_refusal_letter"


async def reject_application(
    actor: Actor, application_id: int, expected_version: int, grounds: Iterable[str],
    note: str, gateway: EnrollmentGateway | None = None, today: date | None = None,
) -> dict[str, Any]:
    """SUBMITTED → REJECTED (不予受理) with at least one ground and a reason in words, which
    go on the 不予受理告知书 rendered after commit. Waiting for materials (SUPPLEMENT), only
    once the period given to the applicant has run out."""
    require_role(actor, DECIDE_ROLES, "作不予受理决定")
    fields: dict[str, str] = {}
    codes = list(dict.fromkeys(c.strip() for c in grounds if c and c.strip()))
    valid = {str(g) for g in Ground}
    if not codes:
        fields["grounds"] = "请至少选择一项不予受理的理由"
    elif unknown := [c for c in codes if c not in valid]:
        fields["grounds"] = "未知的理由编码：" + "、".join(unknown) + "；可选：" + "、".join(
            f"{g.value}（{g.label}）" for g in Ground)
    note = (note or "").strip()
    if not note:
        fields["note"] = "请填写不予受理的具体说明，它将写入告知书"
    elif len(note) > NOTE_MAX_LENGTH:
        fields["note"] = f"说明不能超过{NOTE_MAX_LENGTH}个字"
    if fields:
        raise InvalidInput("invalid_rejection", "不予受理的理由不完整，请按提示补充", fields)
    today = today or clock.today()
    row = await load_visible(actor, application_id)
    check_transition(row, ApplicationState.REJECTED, "作不予受理决定", expected_version)
    if row["state"] == ApplicationState.SUPPLEMENT and (
            problem := refusal_while_waiting_problem(row["materials_due_on"], today)):
        raise Conflict("materials_not_due", problem)
    # The rules' findings word the letter; the enrolment check may be a remote call, so it
    # runs before the transaction, and the compare-and-set catches any change meanwhile.
    check = await _enrolment(row, gateway, today)
    if check.unknown and Ground.not_enrolled in codes:
        # Unknown is not "not enrolled": no letter says so before the system has.
        raise Conflict("enrolment_unknown", ENROLMENT_UNKNOWN, {
            "grounds": "参保状态暂无法查询，不能以“未参加基本医疗保险”作不予受理；"
                       "请稍后重新查询"})
    found = await _grounds(actor, row, check, today)
    details = _ground_details(codes, row, found)
    async with db.write_transaction():
        rejected = await write_transition(
            actor, row, expected_version, ApplicationState.REJECTED, "application.rejected",
            {Application.decided_at: clock.now(),
             Application.refusal_grounds: json.dumps(details, ensure_ascii=False),
             Application.decision_note: note},
            after={"grounds": details}, note=note)
        await outbox.enqueue(REFUSAL_LETTER_JOB, application_id)
    return rejected


async def withdraw_application(
    actor: Actor, application_id: int, expected_version: int, note: str
) -> dict[str, Any]:
    """DRAFT, SUBMITTED or SUPPLEMENT → CLOSED: withdrawn by the applicant or entered in
    error. A
    provider may withdraw only its own drafts."""
    require_role(actor, SUBMIT_ROLES, "撤回申请")
    note = (note or "").strip()
    if not note:
        raise InvalidInput("invalid_withdrawal", "请填写撤回原因",
                           {"note": "请填写撤回原因（例如：申请人主动撤回、误登记）"})
    async with db.write_transaction():
        row = await load_visible(actor, application_id)
        if actor.role == Role.provider and row["state"] != ApplicationState.DRAFT:
            raise Conflict("wrong_state", f"申请 {row['number']} 已提交，请联系经办机构撤回")
        check_transition(row, ApplicationState.CLOSED, "撤回", expected_version)
        return await write_transition(
            actor, row, expected_version, ApplicationState.CLOSED, "application.withdrawn",
            {Application.decision_note: note}, note=note)


async def get_application(actor: Actor, application_id: int) -> dict[str, Any]:
    require_role(actor, READ_ROLES, "查看申请")
    return shaped(await load_visible(actor, application_id))


def cursor_of(row: dict[str, Any]) -> str:
    """An opaque keyset cursor: newest first by (created_at, id)."""
    created: datetime = row["created_at"]
    return f"{created.astimezone(UTC).isoformat()}|{row['id']}"


def _parse_cursor(after: str) -> tuple[datetime, int]:
    try:
        created, _, ident = after.rpartition("|")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(ident)
    except ValueError as exc:
        raise InvalidInput("invalid_cursor", "分页参数无效，请回到第一页重新查询") from exc


async def list_applications(
    actor: Actor,
    *,
    state: str | None = None,
    q: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Applications the actor may see, newest first, and the cursor of the next page (None on
    the last page): pass it as `after`. Keyset on (created_at, id), so pages stay stable while
    new applications arrive. Each row also carries its own `cursor`."""
    require_role(actor, READ_ROLES, "查看申请")
    limit = max(1, min(limit, MAX_PAGE))
    query = Application.select(*_COLUMNS).where(_visible(actor))
    if state:
        try:
            query = query.where(Application.state == str(ApplicationState(state)))
        except ValueError as exc:
            raise InvalidInput("invalid_state", f"未知的申请状态：{state}", {
                "state": "可选：" + "、".join(f"{s.value}（{s.label}）"
                                             for s in ApplicationState)}) from exc
    if q and q.strip():
        text = q.strip()
        # The matching people first, as a subquery the planner answers from the person
        # indexes; a join filtered by an OR over person columns scanned every application.
        condition = Application.person.is_in(people_interface.ids_matching(text))
        if text.upper().startswith(NUMBER_PREFIX) and text[2:].isdigit():
            condition = Application.number.like(text.upper() + "%")
        query = query.where(condition)
    if after:
        created, ident = _parse_cursor(after)
        query = query.where((Application.created_at < created) | (
            (Application.created_at == created) & (Application.id < ident)))
    # One row more than asked tells whether a next page exists without a COUNT.
    rows = await query.order_by(Application.created_at, Application.id,
                                ascending=False).limit(limit + 1)
    page = [{**shaped(row), "cursor": cursor_of(row)} for row in rows[:limit]]
    return page, (page[-1]["cursor"] if len(rows) > limit else None)


async def count_in_state(actor: Actor, state: ApplicationState) -> int:
    """How many the list shows filtered to `state`: for the workbench and navigation."""
    require_role(actor, READ_ROLES, "查看申请")
    return await Application.count().where(_visible(actor) & (Application.state == str(state)))


async def application_timeline(actor: Actor, application_id: int,
                               related: dict[str, list[Any]] | None = None
                               ) -> list[dict[str, Any]]:
    """Every audited event of the application, of its assessments and of the `related`
    objects of other contexts ({object type: ids}: its notice entries, decision …), in order."""
    require_role(actor, READ_ROLES, "查看申请")
    await load_visible(actor, application_id)
    return await audit.timeline_of({
        **(related or {}), "application": [application_id],
        "assessment": await assessments.assessment_ids_of([application_id])})


async def close_open_of_deceased(actor: Actor, person_id: int) -> int:
    """The person died: their open applications close and those applications' unfinished
    assessments are cancelled, inside the caller's transaction; each audited."""
    open_applications = await Application.select(Application.id, Application.state).where(
        (Application.person == person_id)
        & Application.state.is_in([str(s) for s in OPEN_STATES]))
    for application in open_applications:
        await Application.update({Application.state: "CLOSED",
                                  Application.decision_note: "申请人已死亡，申请终止",
                                  Application.version: Application.version + 1}).where(
            Application.id == application["id"])
        await audit.record(actor, "application.closed", "application", application["id"],
                           before={"state": application["state"]}, after={"state": "CLOSED"},
                           note="申请人已死亡")
        await cancel_open_of_application(actor, application["id"], "被评估人已死亡")
    return len(open_applications)
