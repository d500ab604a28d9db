"""A new assessment asked for by the person or their family (申请重新评估, SPEC §12): when
their state has changed, `reapply_months` (policy, default 6) after their last conclusion.

A clerk records the request; it becomes a SUBMITTED application marked with its origin and the
stated change, which then goes through the normal flow: acceptance (every refusal ground is
checked again, including enrolment and materials), the draw of two assessors, the assessment,
notice and decision. The previous conclusion and any entitlement stay as they are until that
new decision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from ltc import clock, db
from ltc.applications import service
from ltc.applications.reference import acceptance_policy
from ltc.applications.rules import (
    APPLICANT_RELATIONS,
    NUMBER_PREFIX,
    OPEN_STATES,
    ApplicationState,
    new_assessment_from,
)
from ltc.applications.tables import Application
from ltc.assessments import interface as assessments
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, ActorKind, Role, require_role
from ltc.people import interface as people
from ltc.people.rules import name_problem

REQUEST_ROLES = frozenset({Role.clerk})
ORIGIN_REQUESTED = "requested"
REASON_MAX_LENGTH = 1000


async def earliest_request_on(person_id: int, region_path: str, today: date) -> date | None:
    """The first day a new assessment may be asked for; None before any conclusion."""
    last = await assessments.last_conclusion_on(person_id)
    if last is None:
        return None
    return new_assessment_from(last, (await acceptance_policy(region_path, today)).reapply_months)


async def request_new_assessment(
    actor: Actor, *, person_id: int, applicant_name: str, applicant_relation: str,
    applicant_phone: str, reason: str, materials: Iterable[str], today: date | None = None,
) -> dict[str, Any]:
    """A SUBMITTED application (origin "requested") for a new assessment of the person.
    Refused (409 `new_assessment_too_early`) before `reapply_months` since the last
    conclusion. Sent twice, the second returns the first."""
    require_role(actor, REQUEST_ROLES, "登记重新评估申请")
    if actor.kind != ActorKind.user:
        raise InvalidInput("user_required", "重新评估申请须由经办员以本人账号登记")
    today = today or clock.today()
    person = await people.person_in_scope(actor, person_id)
    if person is None:
        raise NotFound("person_not_found", f"人员 {person_id} 不存在或不在您的管辖范围内")
    if person.deceased_on is not None:
        raise Conflict("person_deceased", f"{person.name}已于"
                       f"{person.deceased_on.isoformat()}死亡，不再评估")
    allowed_from = await earliest_request_on(person_id, person.region_path, today)
    if allowed_from is None:
        raise Conflict("no_previous_conclusion",
                       f"{person.name}尚无评估结论，请按首次申请办理（登记申请）")
    if today < allowed_from:
        raise Conflict("new_assessment_too_early",
                       f"距{person.name}上次评估结论不满规定期限，"
                       f"{allowed_from.isoformat()}起方可申请重新评估",
                       {"person_id": f"{allowed_from.isoformat()}起可申请"})
    fields: dict[str, str] = {}
    if problem := name_problem(applicant_name, "申请人姓名"):
        fields["applicant_name"] = problem
    relation = (applicant_relation or "").strip()
    if relation not in APPLICANT_RELATIONS:
        fields["applicant_relation"] = "请选择申请人与被评估人的关系：" + "、".join(
            APPLICANT_RELATIONS)
    phone = service.checked_phone(applicant_phone, "applicant_phone", fields)
    why = (reason or "").strip()
    if not why or len(why) > REASON_MAX_LENGTH:
        fields["reason"] = "请写明失能状态的变化（不超过1000字），例如：近两月卧床，不能自行进食"
    codes = service.checked_materials(materials, fields)
    if fields:
        raise InvalidInput("invalid_request", "重新评估申请信息有误，请按提示修改", fields)

    async with db.write_transaction():
        # The number first: on PostgreSQL it takes the applications' advisory lock, so the
        # same request sent twice at once waits here and then sees the first one's row.
        number = await db.next_daily_number(Application.number, NUMBER_PREFIX, today)
        open_one = await Application.select(
            Application.id, Application.number, Application.state, Application.origin).where(
            (Application.person == person_id)
            & Application.state.is_in([str(s) for s in OPEN_STATES])).first()
        if open_one and open_one["origin"] == ORIGIN_REQUESTED:
            return service.shaped(await service.load_visible(actor, open_one["id"]))
        if open_one:
            raise Conflict(
                "application_open",
                f"{person.name}已有一份办理中的申请（{open_one['number']}，"
                f"{ApplicationState(open_one['state']).label}），请在该申请上继续办理",
                {"person_id": "此人已有办理中的申请"})
        last = await Application.select(Application.disabled_since).where(
            Application.person == person_id).order_by(Application.id, ascending=False).first()
        application = Application(
            number=number, person=person_id, region_path=person.region_path,
            state=str(ApplicationState.SUBMITTED), applicant_name=applicant_name.strip(),
            applicant_relation=relation, applicant_phone=phone,
            disabled_since=last["disabled_since"], materials=json.dumps(codes),
            created_by=actor.id, submitted_at=clock.now(), origin=ORIGIN_REQUESTED,
            origin_reason=why)
        await application.save()
        await audit.record(actor, "application.new_assessment_requested", "application",
                           application.id, after={"number": number, "person": person_id,
                                                  "state": "SUBMITTED", "materials": codes},
                           note=why)
        await audit.record(actor, "person.new_assessment_requested", "person", person_id,
                           after={"application": number}, note=why)
    return service.shaped(await service.load_visible(actor, application.id))
