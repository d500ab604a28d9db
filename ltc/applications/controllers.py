"""Intake pages for clerks (and providers filing on a person's behalf), and the JSON API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import File, Redirect, Stream, Template
from msgspec import Struct

from ltc import db
from ltc.applications import service, supplement
from ltc.applications.new_assessment import request_new_assessment
from ltc.applications.reference import materials_checklist
from ltc.applications.rules import ApplicationState
from ltc.assessments import assignment
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput
from ltc.identity import Actor, Role
from ltc.people import service as people
from ltc.regions import interface as regions
from ltc.web.access_log import masked_search
from ltc.web.exports import csv_download, pdf_file
from ltc.web.formatting import iso_date
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import BodyId, Id, PageSize, StateQuery, Version, VersionIn

INTAKE = role_guard(Role.clerk, Role.provider)
PAGE_SIZE = 50

RELATIONS = ["本人", "配偶", "子女", "其他亲属", "村（居）委会", "医疗机构"]


async def _villages(actor: Actor) -> list[regions.Place]:
    return await regions.at_level("village", under=actor.region_path)


async def _person_for(actor: Actor, data: dict[str, str], fields: dict[str, str]) -> int | None:
    """The person the application is for: registered now, or already known by resident ID.
    With `fields` already holding the application's own problems nothing is registered (a
    refused form changes nothing); the person's fields are still checked, to list them all."""
    person = {"resident_id": data.get("resident_id", ""), "name": data.get("name", ""),
              "phone": data.get("phone", ""), "address": data.get("address", ""),
              "village_code": data.get("village", ""),
              "insurance_number": data.get("insurance_number", "").strip() or None}
    try:
        if fields:
            await people.check_person(actor, **person)
            return None
        return (await people.register_person(actor, **person))["id"]
    except Conflict as exc:
        if exc.code == "person_exists":
            return int(exc.fields["person_id"])
        if exc.code == "person_registered_elsewhere":
            fields.update(exc.fields)
            return None
        raise
    except InvalidInput as exc:
        fields.update(exc.fields)
        return None


class ApplicationPages(Controller):
    path = "/applications"
    guards = [INTAKE]  # noqa: RUF012

    @get("/")
    async def queue(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                    q: FromQuery[str] = "", after: FromQuery[str] = "") -> Template:
        rows, next_after = await service.list_applications(
            request.user, state=status or None, q=q or None, limit=PAGE_SIZE,
            after=after or None)
        return page(request, "applications/queue.html", rows=rows, state=status, q=q,
                    states=list(ApplicationState), next_after=next_after)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                     q: FromQuery[str] = "") -> Stream:
        """The queue with its filters as CSV for Excel (UTF-8 with BOM), streamed page by page
        so a large region never sits in memory. Who exported what is audited."""
        actor = request.user
        # The first page is read before the response starts, so a bad filter is a normal
        # error page; once streaming, a failure could only cut the file short.
        first, after = await service.list_applications(
            actor, state=status or None, q=q or None, limit=service.MAX_PAGE)
        async with db.write_transaction():
            await audit.record(actor, "application.exported", "application_list",
                               actor.region_path or "all",
                               after={"state": status, "q": masked_search(q)})

        async def rows() -> AsyncIterator[list[Any]]:
            page_rows, cursor = first, after
            while True:
                for r in page_rows:
                    yield [r["number"], r["person.name"], r["person.resident_id_masked"],
                           r["person.village.name"], r["state_label"], iso_date(r["created_at"])]
                if cursor is None:
                    return
                page_rows, cursor = await service.list_applications(
                    actor, state=status or None, q=q or None, limit=service.MAX_PAGE,
                    after=cursor)

        return csv_download("applications.csv", EXPORT_HEADER, rows())

    async def _form(self, request: Request[Actor, Any, Any], status_code: int = 200,
                    **context: Any) -> Template:
        return page(request, "applications/new.html", status_code=status_code,
                    villages=await _villages(request.user), materials=materials_checklist(),
                    relations=RELATIONS, form=context.pop("form", {}),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    chosen=context.pop("chosen", []))

    @get("/new")
    async def new_page(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._form(request)

    @post("/new", status_code=200)
    async def create(self, request: Request[Actor, Any, Any],
                     data: URLEncodedBody[dict[str, Any]]) -> Any:
        materials = data.get("materials", [])
        materials = [materials] if isinstance(materials, str) else list(materials)
        form = {k: v for k, v in data.items() if isinstance(v, str)}
        fields: dict[str, str] = {}
        details = {"applicant_name": form.get("applicant_name", ""),
                   "applicant_relation": form.get("applicant_relation", ""),
                   "applicant_phone": form.get("applicant_phone", ""),
                   "agent_name": form.get("agent_name", "").strip() or None,
                   "agent_phone": form.get("agent_phone", "").strip() or None,
                   "disabled_since": form.get("disabled_since", ""), "materials": materials}
        service.checked_details(fields, **details)  # all problems at once, person's too
        person_id = await _person_for(request.user, form, fields)
        if person_id is not None:
            try:
                application = await service.create_application(
                    request.user, person_id=person_id, **details)
            except InvalidInput as exc:
                fields.update(exc.fields)
            else:
                flash(request, f"申请 {application['number']} 已登记", category="success")
                return Redirect(f"/applications/{application['id']}")
        return await self._form(request, status_code=422, form=form, errors=fields,
                                chosen=materials, error="申请信息有误，请按提示修改")

    @get("/{application_id:int}/materials-notice.pdf")
    async def materials_notice(self, request: Request[Actor, Any, Any],
                               application_id: Id) -> File:
        return await _letter(request.user, application_id, "materials_notice_sha256",
                             "补正材料通知书")

    @get("/{application_id:int}/refusal-letter.pdf")
    async def refusal_letter(self, request: Request[Actor, Any, Any],
                             application_id: Id) -> File:
        return await _letter(request.user, application_id, "refusal_letter_sha256",
                             "不予受理告知书")


async def _letter(actor: Actor, application_id: int, column: str, title: str) -> File:
    """One of the application's letters as its PDF, named by title and application number."""
    application = await service.get_application(actor, application_id)
    return await pdf_file(application[column], f"{title}-{application['number']}.pdf",
                          object_type="application", object_id=application_id)


EXPORT_HEADER = ["申请编号", "姓名", "身份证号", "村（居）", "状态", "登记日期"]


class ApplicationIn(Struct):
    person_id: BodyId
    applicant_name: str
    applicant_relation: str
    applicant_phone: str
    disabled_since: date
    materials: list[str]
    agent_name: str | None = None
    agent_phone: str | None = None


class NewAssessmentIn(Struct):
    applicant_name: str
    applicant_relation: str
    applicant_phone: str
    reason: str
    materials: list[str]


class RejectIn(Struct):
    version: Version
    grounds: list[str]
    note: str


class MaterialsRequestIn(Struct):
    version: Version
    materials: list[str]
    due_on: date | None = None  # default: 5 working days from today
    note: str = ""


class MaterialsReceivedIn(Struct):
    version: Version
    received: list[str]


class PersonIn(Struct):
    resident_id: str
    name: str
    phone: str
    address: str
    village: str
    insurance_number: str | None = None


class ApplicationApi(Controller):
    path = "/api/v1"
    tags = ["intake"]  # noqa: RUF012
    guards = [INTAKE]  # noqa: RUF012

    @post("/people", summary="Register a person (409 person_exists if the ID is known in "
                              "your region; 409 person_registered_elsewhere, naming no one, "
                              "if elsewhere)")
    async def register(self, request: Request[Actor, Any, Any],
                       data: JSONBody[PersonIn]) -> dict[str, Any]:
        person = await people.register_person(
            request.user, resident_id=data.resident_id, name=data.name, phone=data.phone,
            address=data.address, village_code=data.village,
            insurance_number=data.insurance_number)
        return {"id": person["id"], "resident_id": person["resident_id"]}

    @get("/applications", summary="Applications in the caller's region, newest first")
    async def list_(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                    q: FromQuery[str] = "", after: FromQuery[str] = "",
                    limit: PageSize = PAGE_SIZE) -> dict[str, Any]:
        rows, next_after = await service.list_applications(
            request.user, state=status or None, q=q or None, limit=max(1, min(limit, 200)),
            after=after or None)
        return {"items": rows, "next_after": next_after}

    @post("/applications", summary="Create an application (DRAFT)")
    async def create(self, request: Request[Actor, Any, Any],
                     data: JSONBody[ApplicationIn]) -> dict[str, Any]:
        return await service.create_application(
            request.user, person_id=data.person_id, applicant_name=data.applicant_name,
            applicant_relation=data.applicant_relation, applicant_phone=data.applicant_phone,
            agent_name=data.agent_name, agent_phone=data.agent_phone,
            disabled_since=data.disabled_since, materials=data.materials)

    @post("/people/{person_id:int}/new-assessment", status_code=200,
          summary="Record a request for a new assessment (申请重新评估): a SUBMITTED "
                  "application; 409 new_assessment_too_early before the policy's interval "
                  "since the last conclusion; sent twice, returns the first")
    async def new_assessment(self, request: Request[Actor, Any, Any], person_id: Id,
                             data: JSONBody[NewAssessmentIn]) -> dict[str, Any]:
        return await request_new_assessment(
            request.user, person_id=person_id, applicant_name=data.applicant_name,
            applicant_relation=data.applicant_relation, applicant_phone=data.applicant_phone,
            reason=data.reason, materials=data.materials)

    @get("/applications/{application_id:int}", summary="One application")
    async def show(self, request: Request[Actor, Any, Any],
                   application_id: Id) -> dict[str, Any]:
        return await service.get_application(request.user, application_id)

    @post("/applications/{application_id:int}/submit", status_code=200)
    async def submit(self, request: Request[Actor, Any, Any], application_id: Id,
                     data: JSONBody[VersionIn]) -> dict[str, Any]:
        return await service.submit_application(request.user, application_id, data.version)

    @post("/applications/{application_id:int}/accept", status_code=200,
          summary="Accept; 422 refusal_grounds_apply lists every ground that holds",
          description="422 refusal_grounds_apply: fields name each ground that holds; 409 "
                      "enrolment_unknown: the enrolment system could not be asked (timeout, "
                      "down, circuit open) — nothing changed, try again later; 409 "
                      "wrong_state; 409 stale_write.")
    async def accept(self, request: Request[Actor, Any, Any], application_id: Id,
                     data: JSONBody[VersionIn]) -> dict[str, Any]:
        return await service.accept_application(request.user, application_id, data.version)

    @post("/applications/{application_id:int}/reject", status_code=200,
          summary="Refuse (不予受理); the 不予受理告知书 is rendered after commit",
          description="422 invalid_rejection: grounds or note missing or unknown (fields "
                      "name each); 409 wrong_state; 409 materials_not_due: waiting for "
                      "materials (SUPPLEMENT) and the period given has not run out; 409 "
                      "enrolment_unknown: not_enrolled chosen while the enrolment system "
                      "cannot be asked; 409 stale_write.")
    async def reject(self, request: Request[Actor, Any, Any], application_id: Id,
                     data: JSONBody[RejectIn]) -> dict[str, Any]:
        return await service.reject_application(request.user, application_id, data.version,
                                                data.grounds, data.note)

    @post("/applications/{application_id:int}/request-materials", status_code=200,
          summary="Ask for missing materials (补正, 一次性告知): SUBMITTED → SUPPLEMENT; the "
                  "补正材料通知书 is rendered after commit",
          description="`materials`: the material codes still needed (the intake checklist); "
                      "`due_on`: the day to bring them by (default 5 working days from "
                      "today, at most 60 days ahead). 422 invalid_materials_request (fields "
                      "materials, due_on, note); 409 wrong_state; 409 "
                      "materials_already_requested: one request per application; 409 "
                      "stale_write.")
    async def request_materials(self, request: Request[Actor, Any, Any], application_id: Id,
                                data: JSONBody[MaterialsRequestIn]) -> dict[str, Any]:
        return await supplement.request_materials(request.user, application_id, data.version,
                                                  data.materials, data.due_on, data.note)

    @post("/applications/{application_id:int}/receive-materials", status_code=200,
          summary="Record the materials brought: SUPPLEMENT → SUBMITTED, the answer "
                  "deadline starts again",
          description="`received`: the codes brought, among those asked for. 422 "
                      "invalid_materials_received (field received); 409 wrong_state; 409 "
                      "stale_write.")
    async def receive_materials(self, request: Request[Actor, Any, Any], application_id: Id,
                                data: JSONBody[MaterialsReceivedIn]) -> dict[str, Any]:
        return await supplement.receive_materials(request.user, application_id, data.version,
                                                  data.received)

    @post("/applications/{application_id:int}/assign", status_code=200,
          summary="Draw two assessors at random (reproducibly) and create the assessment")
    async def assign(self, request: Request[Actor, Any, Any], application_id: Id,
                     data: JSONBody[VersionIn]) -> dict[str, Any]:
        return await assignment.assign_assessors(request.user, application_id, data.version)
