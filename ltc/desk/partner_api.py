"""What partners read (issue 17 item 3): a person's current status, entitlement and care plan
by resident ID, for an integration client's API token with the scope partner.read. It reads
six contexts, so it lives on the desk.

The resident ID travels in a JSON body of a POST, never in the address: access logs, proxies
and browser histories keep addresses (ltc.web.access_log masks long numbers there as a second
line of defence). A person outside the token's region answers exactly as an unknown one does
(404 person_not_found): the answer tells nothing about who is registered elsewhere. Every
answer about a person is an audited read of personal data by the client."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Controller, Request, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from msgspec import Struct

from ltc import clock, db
from ltc.applications import interface as applications
from ltc.applications.rules import OPEN_STATES, ApplicationState
from ltc.assessments.validity import validity_of
from ltc.audit import interface as audit_log
from ltc.audit import service as audit
from ltc.careplans import interface as careplans
from ltc.careplans.rules import CareForm
from ltc.entitlements import interface as entitlements
from ltc.entitlements.rules import END_REASONS, EntitlementState
from ltc.errors import InvalidInput, NotFound
from ltc.identity import Actor, Scope, region_covers
from ltc.people import interface as people
from ltc.people.rules import InvalidResidentId, mask_resident_id, parse_resident_id
from ltc.policy.rules import bed_day_rate, home_care_month_fen, quota
from ltc.policy.service import policy_in_force
from ltc.web.openapi import Error


class ResidentQuery(Struct):
    resident_id: str  # 18 characters; spaces and a lower-case x are accepted


class ApplicationNow(Struct):
    number: str
    state: str  # ltc.applications.rules.ApplicationState
    state_label: str
    in_progress: bool
    submitted_at: datetime


class GradeNow(Struct):
    grade: int  # 0–5 (失能等级)
    concluded_on: date
    valid_until: date  # the last day the conclusion is valid
    validity: str  # valid | expiring | expired
    validity_label: str
    with_benefits: bool


class PersonStatus(Struct):
    resident_id_masked: str
    registered: bool  # always true: an unknown person answers 404
    deceased_on: date | None
    application: ApplicationNow | None  # the newest application, if any
    grade: GradeNow | None  # the latest conclusion, if any
    entitlement_state: str | None  # ACTIVE | SUSPENDED | ENDED of the newest entitlement


class Benefit(Struct):
    """What the grade is worth under the policy in force today, money in integer fen."""

    home_visits_per_month: int
    home_care_month_fen: int
    bed_day_rate_fen: int


class SuspensionNow(Struct):
    reason: str
    starts_on: date
    resumes_on: date | None


class EntitlementNow(Struct):
    state: str  # ACTIVE | SUSPENDED | ENDED
    state_label: str
    grade: int
    starts_on: date
    expires_on: date  # the last day of validity
    ends_on: date | None  # the last active day, when ended early
    end_reason: str | None  # expired, deceased, enrollment_ended, moved_out, …
    end_reason_label: str | None
    benefit: Benefit
    suspensions: list[SuspensionNow]


class EntitlementAnswer(Struct):
    resident_id_masked: str
    entitlement: EntitlementNow | None  # the newest, ended or not; null before any


class PlanItemNow(Struct):
    code: str
    name: str
    required: bool  # in the policy's required package; optional otherwise


class CarePlanNow(Struct):
    plan_no: int
    care_form: str  # home | institution
    care_form_label: str
    provider_name: str
    provider_phone: str
    starts_on: date
    visits_per_month: int
    confirmed_at: datetime | None
    items: list[PlanItemNow]


class CarePlanAnswer(Struct):
    resident_id_masked: str
    care_plan: CarePlanNow | None  # the confirmed plan in force today; null when none


async def _person(actor: Actor, resident_id: str) -> people.PersonRef:
    """The person the client names, if in its region; unknown and elsewhere alike are 404."""
    try:
        number = parse_resident_id(resident_id, clock.today()).number
    except InvalidResidentId as exc:
        raise InvalidInput("invalid_resident_id", "身份证号码有误",
                           {"resident_id": str(exc)}) from exc
    person = await people.person_by_resident_id(number)
    if person is None or not region_covers(actor.region_path or "", person.region_path):
        raise NotFound("person_not_found", "本令牌的地区范围内没有该身份证号的参保人")
    return person


async def _audited(actor: Actor, what: str, person: people.PersonRef) -> None:
    async with db.write_transaction():
        await audit.record(actor, f"partner.{what}_read", "person", person.id)


async def status_of(actor: Actor, resident_id: str) -> PersonStatus:
    person = await _person(actor, resident_id)
    newest = next(iter(await applications.applications_of(person.id)), None)
    validity = await validity_of(person.id, clock.today())
    held = await entitlements.current_entitlements_of([person.id])
    await _audited(actor, "status", person)
    return PersonStatus(
        resident_id_masked=mask_resident_id(person.resident_id), registered=True,
        deceased_on=person.deceased_on,
        application=None if newest is None else ApplicationNow(
            number=newest.number, state=newest.state,
            state_label=ApplicationState(newest.state).label,
            in_progress=newest.state in OPEN_STATES, submitted_at=newest.created_at),
        grade=None if validity is None else GradeNow(
            grade=validity.grade, concluded_on=validity.concluded_on,
            valid_until=validity.valid_until, validity=str(validity.state),
            validity_label=validity.state.label, with_benefits=validity.with_benefits),
        entitlement_state=held[person.id].state if person.id in held else None)


async def entitlement_of(actor: Actor, resident_id: str) -> EntitlementAnswer:
    person = await _person(actor, resident_id)
    detail = await entitlements.newest_entitlement_detail(person.id)
    answer = None
    if detail is not None:
        held = detail.entitlement
        policy = (await policy_in_force(person.region_path, clock.today())).policy
        answer = EntitlementNow(
            state=held.state, state_label=EntitlementState(held.state).label, grade=held.grade,
            starts_on=held.starts_on, expires_on=held.expires_on, ends_on=held.ends_on,
            end_reason=detail.end_reason or None,
            end_reason_label=END_REASONS.get(detail.end_reason) if detail.end_reason else None,
            benefit=Benefit(home_visits_per_month=quota(policy, held.grade),
                            home_care_month_fen=home_care_month_fen(policy, held.grade),
                            bed_day_rate_fen=bed_day_rate(policy, held.grade)),
            suspensions=[SuspensionNow(s.reason, s.starts_on, s.resumes_on)
                         for s in detail.suspensions])
    await _audited(actor, "entitlement", person)
    return EntitlementAnswer(mask_resident_id(person.resident_id), answer)


async def care_plan_of(actor: Actor, resident_id: str) -> CarePlanAnswer:
    person = await _person(actor, resident_id)
    plan = await careplans.plan_summary(person.id)
    answer = None
    if plan is not None:
        policy = (await policy_in_force(person.region_path, clock.today())).policy
        # A clerk's own plan is confirmed as it is made; a provider's when a clerk confirms it.
        confirmed = [event.at for action in ("care_plan.confirmed", "care_plan.created")
                     for event in await audit_log.events_on(action, "care_plan", [plan.id])]
        answer = CarePlanNow(
            plan_no=plan.plan_no, care_form=plan.care_form,
            care_form_label=CareForm(plan.care_form).label, provider_name=plan.provider_name,
            provider_phone=plan.provider_phone, starts_on=plan.starts_on,
            visits_per_month=plan.visits_per_month,
            confirmed_at=max(confirmed) if confirmed else None,
            items=[PlanItemNow(i.code, i.name, i.code in policy.care_required)
                   for i in plan.items])
    await _audited(actor, "care_plan", person)
    return CarePlanAnswer(mask_resident_id(person.resident_id), answer)


# The statuses these operations really answer besides 200, on top of ltc.web.openapi's.
_NOT_FOUND = ResponseSpec(data_container=Error, generate_examples=False, description=(
    "person_not_found: no person with this resident ID in the token's region (a person "
    "registered elsewhere answers the same)"))
_INVALID = ResponseSpec(data_container=Error, generate_examples=False, description=(
    "invalid_resident_id: not a valid 18-character resident ID; fields.resident_id says why"))
_RESPONSES: dict[int | str, Any] = {404: _NOT_FOUND, 422: _INVALID}


class PartnerApi(Controller):
    """POST, so the resident ID is in the body and never in an access log. Only API tokens
    with the scope partner.read; 403 scope_missing otherwise."""

    path = "/api/v1/partner"
    tags = ["partner"]  # noqa: RUF012
    opt = {"scope": Scope.partner_read}  # noqa: RUF012

    @post("/status", status_code=200, responses=_RESPONSES,
          summary="A person's current status by resident ID")
    async def status(self, request: Request[Actor, Any, Any],
                     data: JSONBody[ResidentQuery]) -> PersonStatus:
        """Registered or not (404), the newest application and its state, the latest grade
        and how long its conclusion is valid, and the entitlement's state."""
        return await status_of(request.user, data.resident_id)

    @post("/entitlement", status_code=200, responses=_RESPONSES,
          summary="A person's entitlement by resident ID")
    async def entitlement(self, request: Request[Actor, Any, Any],
                          data: JSONBody[ResidentQuery]) -> EntitlementAnswer:
        """The newest entitlement (ended or not): state, grade, start, expiry, end and its
        reason, the benefit the grade gives today and the clerks' suspensions."""
        return await entitlement_of(request.user, data.resident_id)

    @post("/care-plan", status_code=200, responses=_RESPONSES,
          summary="A person's care plan in force by resident ID")
    async def care_plan(self, request: Request[Actor, Any, Any],
                        data: JSONBody[ResidentQuery]) -> CarePlanAnswer:
        """The confirmed plan in force today: provider, items (required or optional),
        visits per month and when it was confirmed."""
        return await care_plan_of(request.user, data.resident_id)
