"""A re-assessment raised by a reviewer from the impact of a ruleset change (改判影响).

A decided case never changes silently: the person's grade changes only through a new
assessment, conclusion, notice and decision (with its letter), like any other case. Raising
one creates an application the agency accepts on its own initiative (依职权), marked with its
origin and the reviewer's reason; the clerk then draws two assessors as for any accepted
application, and the new conclusion is graded by the ruleset in force.

`open_ex_officio` is the same opening for other origins: a spot check found 不符合
(ltc.spotchecks, which then draws the assessors from other organisations at once).
"""

from __future__ import annotations

from typing import Any

from ltc import clock, db
from ltc.applications.rules import OPEN_STATES, ApplicationState
from ltc.applications.service import NUMBER_PREFIX
from ltc.applications.tables import Application
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, Role, require_role
from ltc.people import interface as people

RAISE_ROLES = frozenset({Role.reviewer})
ORIGIN_REGRADING = "regrading"
AGENCY = "医保经办机构（依职权复评）"


async def raise_regrading(actor: Actor, *, person_id: int, reason: str, ruleset: str,
                          assessment_id: int | None = None) -> dict[str, Any]:
    """An ACCEPTED application for a new assessment of the person. Sent twice, the second
    returns the first; a person with another case in progress is refused, naming it."""
    require_role(actor, RAISE_ROLES, "发起改判复评")
    if not (reason or "").strip():
        raise InvalidInput("reason_required", "发起复评必须写明原因", {
            "reason": "请填写原因，例如：按更正后的评估规则等级将由重度失能Ⅰ级变为中度失能"})
    return await open_ex_officio(
        actor, person_id=person_id, reason=reason, origin=ORIGIN_REGRADING,
        action="regrading_raised", after={"ruleset": ruleset, "assessment": assessment_id},
        when_open="其评估结论将按现行评估规则评定，无需另行发起复评")


async def open_ex_officio(actor: Actor, *, person_id: int, reason: str, origin: str,
                          action: str, after: dict[str, Any], when_open: str,
                          ) -> dict[str, Any]:
    """An application the agency accepts on its own initiative (依职权) for a new assessment
    of the person, marked with its `origin` and `reason`; audited as `application.<action>`
    and `person.<action>`. A second one of the same origin while the first is open returns
    the first; a person with another case in progress is refused, naming it (`when_open`
    says what follows for that case); a person who died is refused."""
    person = await people.person_in_scope(actor, person_id)
    if person is None:
        raise NotFound("person_not_found", f"人员 {person_id} 不存在或不在您的管辖范围内")
    if person.deceased_on is not None:
        raise Conflict("person_deceased", f"{person.name}已于"
                       f"{person.deceased_on.isoformat()}死亡，不再评估")
    today = clock.today()
    async with db.write_transaction():
        # The number first: on PostgreSQL it takes the applications' advisory lock, so a
        # second request sent at the same moment waits here and then sees the first one's row.
        number = await db.next_daily_number(Application.number, NUMBER_PREFIX, today)
        open_one = await Application.select().where(
            (Application.person == person_id)
            & Application.state.is_in([str(s) for s in OPEN_STATES])).first()
        if open_one and open_one["origin"] == origin:
            return open_one  # sent twice: the new assessment is already raised
        if open_one:
            raise Conflict(
                "application_open",
                f"{person.name}已有一份办理中的申请（{open_one['number']}，"
                f"{ApplicationState(open_one['state']).label}），{when_open}")
        last = await Application.select(Application.disabled_since).where(
            Application.person == person_id).order_by(Application.id, ascending=False).first()
        if last is None:
            raise Conflict("no_previous_case", f"{person.name}没有办理过的申请，无从复评")
        application = Application(
            number=number, person=person_id, region_path=person.region_path,
            state=str(ApplicationState.ACCEPTED), applicant_name=AGENCY,
            applicant_relation="机构", applicant_phone="", disabled_since=last["disabled_since"],
            materials="[]", created_by=actor.id, submitted_at=clock.now(),
            accepted_at=clock.now(), origin=origin, origin_reason=reason.strip())
        await application.save()
        await audit.record(actor, f"application.{action}", "application", application.id,
                           after={"number": number, "person": person_id, "state": "ACCEPTED",
                                  **after}, note=reason.strip())
        await audit.record(actor, f"person.{action}", "person", person_id,
                           after={"application": number, **after}, note=reason.strip())
    return await Application.select().where(Application.id == application.id).first()
