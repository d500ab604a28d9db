"""The person page (it reads five contexts, so it lives on the desk): details, their
applications, decisions, notices and timeline; the full resident ID only on
request, for the roles that need it, and every showing is audited (SPEC §11). It shows how
long the latest conclusion is valid and, for clerks, records a request for a new assessment
(申请重新评估, SPEC §12)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Stream, Template

from ltc import clock
from ltc.applications.interface import applications_of
from ltc.applications.new_assessment import earliest_request_on, request_new_assessment
from ltc.applications.reference import materials_checklist
from ltc.applications.rules import APPLICANT_RELATIONS
from ltc.assessments.interface import assessment_ids_of
from ltc.assessments.validity import validity_of
from ltc.audit import service as audit
from ltc.entitlements.interface import decisions_of, entitlements_of
from ltc.identity import Actor, Role
from ltc.notices.interface import entries_of
from ltc.people import service as people
from ltc.people.rules import resident_id_tail
from ltc.phones import mask_phone
from ltc.regions.interface import PlaceFilter, place_filter
from ltc.web.actions import perform
from ltc.web.exports import keyset_page, paged_csv
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id

PAGE_SIZE = 50
EXPORT_PAGE = 500
EXPORT_HEADER = ["姓名", "身份证号（脱敏）", "性别", "出生日期", "电话（脱敏）", "乡镇",
                 "村（居）", "住址", "医保个人编号"]


class PersonPages(Controller):
    path = "/people"
    guards = [role_guard(Role.clerk, Role.reviewer)]  # noqa: RUF012

    async def _found(self, request: Request[Actor, Any, Any], q: str, town: str,
                     village: str) -> tuple[PlaceFilter, dict[str, str]]:
        place = await place_filter(request.user.region_path, town, village)
        return place, {"q": q, "town": place.town, "village": place.village}

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                    town: FromQuery[str] = "", village: FromQuery[str] = "",
                    after: AfterId = 0) -> Template:
        """人员查询: everyone registered in the region, found by name, pinyin initials, ID,
        phone, or the ID's last four digits within a town. Each page read is audited: a
        directory of everyone is a read of personal data, not a case the clerk works on."""
        actor = request.user
        place, filters = await self._found(request, q, town, village)
        rows = await people.search_people(actor, q, PAGE_SIZE, after, within=place.within)
        await audit.record_list_read(actor, "person.listed", "person_list",
                                     {**filters, "after": after})
        return page(request, "people/directory.html", rows=rows, place=place, q=q,
                    tail_needs_town=place.within is None and bool(resident_id_tail(q)),
                    next_after=keyset_page(rows, PAGE_SIZE)[1], mask_phone=mask_phone)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                     town: FromQuery[str] = "", village: FromQuery[str] = "") -> Stream:
        """The directory with its filters as CSV for Excel; IDs and phones masked, audited."""
        actor = request.user
        place, filters = await self._found(request, q, town, village)

        async def fetch(after: int | None) -> Any:
            return keyset_page(await people.search_people(
                actor, q, EXPORT_PAGE, after or 0, within=place.within), EXPORT_PAGE)

        def line(r: dict[str, Any]) -> list[Any]:
            town_name = next((t.name for t in place.towns
                              if r["region_path"].startswith(t.path + "/")), "")
            return [r["name"], r["resident_id_masked"], "男" if r["sex"] == "M" else "女",
                    r["birth_date"].isoformat(), mask_phone(r["phone"]), town_name,
                    r["village.name"], r["address"], r["insurance_number"] or ""]

        return await paged_csv("people.csv", EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "person.exported", "person_list", filters))

    async def _render(self, request: Request[Actor, Any, Any], person_id: int,
                      reveal: bool, status_code: int = 200, **context: Any) -> Template:
        person = await people.get_person(request.user, person_id, reveal_resident_id=reveal)
        applications = await applications_of(person_id)
        assessments = await assessment_ids_of([a.id for a in applications])
        entries = await entries_of(person_id)
        decisions = await decisions_of(person_id)
        held = await entitlements_of(person_id)
        timeline = await audit.timeline_of({
            "person": [person_id], "application": [a.id for a in applications],
            "assessment": assessments, "notice_entry": [e.id for e in entries],
            "decision": [d.id for d in decisions], "entitlement": [e.id for e in held]})
        today = clock.today()
        return page(request, "people/person.html", status_code=status_code, person=person,
                    applications=applications, notice_entries=entries, decisions=decisions,
                    entitlements=held, timeline=timeline,
                    validity=await validity_of(person_id, today),
                    request_from=await earliest_request_on(person_id, person["region_path"],
                                                           today),
                    today=today, relations=APPLICANT_RELATIONS,
                    materials=materials_checklist(), form=context.pop("form", {}),
                    chosen=context.pop("chosen", []), errors=context.pop("errors", {}),
                    **context)

    @get("/{person_id:int}")
    async def show(self, request: Request[Actor, Any, Any], person_id: Id) -> Template:
        return await self._render(request, person_id, reveal=False)

    @post("/{person_id:int}/resident-id", status_code=200)
    async def reveal(self, request: Request[Actor, Any, Any],
                     person_id: Id) -> Template:
        """A POST, not a GET: showing the number is an audited act, never a prefetch."""
        return await self._render(request, person_id, reveal=True)

    @post("/{person_id:int}/new-assessment", status_code=200)
    async def request_assessment(self, request: Request[Actor, Any, Any], person_id: Id,
                                 data: URLEncodedBody[dict[str, Any]]) -> Any:
        materials = data.get("materials", [])
        materials = [materials] if isinstance(materials, str) else list(materials)
        form = {k: v for k, v in data.items() if isinstance(v, str)}

        async def transition() -> None:
            await request_new_assessment(
                request.user, person_id=person_id,
                applicant_name=form.get("applicant_name", ""),
                applicant_relation=form.get("applicant_relation", ""),
                applicant_phone=form.get("applicant_phone", ""),
                reason=form.get("reason", ""), materials=materials)

        async def render(**context: Any) -> Template:
            return await self._render(request, person_id, reveal=False, form=form,
                                      chosen=materials, **context)

        return await perform(request, transition, render=render,
                             done="已登记重新评估申请（已提交），请在下方申请列表中打开并受理",
                             then=f"/people/{person_id}", stale="")
