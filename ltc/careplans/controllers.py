"""Care plan pages: the list (a clerk's region, a provider's own beneficiaries), the form for
a new version, and a version's page with its items, history, timeline and the clerk's
confirm / return. Made for a provider's tablet or phone as much as a clerk's desk."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, QueryParameter, URLEncodedBody
from litestar.response import File, Redirect, Stream, Template

from ltc.audit import service as audit
from ltc.careplans import letters, service
from ltc.careplans.rules import CATEGORY_LABELS, CareForm, PlanState
from ltc.identity import Actor, Role, require_role
from ltc.people.rules import mask_resident_id
from ltc.web.actions import perform
from ltc.web.exports import Page, keyset_page, paged_csv, pdf_file
from ltc.web.formatting import iso_date
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import DB_INT_MAX, AfterId, Id, StateQuery, form_int

EXPORT_PAGE = 200
EXPORT_HEADER = ["姓名", "身份证号（脱敏）", "村（居）", "失能等级", "计划版本", "状态",
                 "护理形式", "护理机构", "开始日期", "每月上门次数"]
EntitlementQuery = Annotated[int, QueryParameter(name="entitlement", ge=1, le=DB_INT_MAX)]


def _optional_id(data: dict[str, Any], field: str) -> int | None:
    """A select whose empty choice means "none"."""
    if not str(data.get(field) or "").strip():
        return None
    return form_int(data, field)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None  # the service asks for a date


class CarePlanPages(Controller):
    path = "/care-plans"
    guards = [role_guard(Role.clerk, Role.provider)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                    q: FromQuery[str] = "", after: AfterId = 0) -> Template:
        status = status if status in tuple(PlanState) else ""
        rows = await service.list_plans(request.user, state=status, search=q, after_id=after)
        return page(request, "careplans/list.html", rows=rows, state=status, q=q,
                    states=list(PlanState), query={"state": status, "q": q},
                    next_after=keyset_page(rows, 50)[1])

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                     q: FromQuery[str] = "") -> Stream:
        """The list with its filters as CSV for Excel, page by page; IDs masked, audited."""
        actor = request.user
        status = status if status in tuple(PlanState) else ""

        async def fetch(after: int | None) -> Page:
            return keyset_page(await service.list_plans(
                actor, state=status, search=q, after_id=after or 0, limit=EXPORT_PAGE),
                EXPORT_PAGE)

        def line(p: dict[str, Any]) -> list[Any]:
            return [p["person.name"], mask_resident_id(p["person.resident_id"]),
                    p["person.village.name"], p["grade_label"], p["plan_no"], p["state_label"],
                    p["care_form_label"], p["provider.name"] or "（亲属护理）",
                    iso_date(p["starts_on"]), p["visits_per_month"]]

        return await paged_csv("care-plans.csv", EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "care_plan.exported", "care_plan_list",
                                   {"state": status, "q": q}))

    async def _new(self, request: Request[Actor, Any, Any], entitlement_id: int,
                   status_code: int = 200, **context: Any) -> Template:
        options = await service.form_context(request.user, entitlement_id)
        form = context.pop("form", None)
        if form is None:  # prefilled from the version in force, if any
            current = options["current"]
            form = {"care_form": current["care_form"] if current else "home",
                    "provider": str(current["provider"] or "") if current else "",
                    "family_caregiver": str(current["family_caregiver"] or "") if current
                    else "", "starts_on": options["suggested_start"].isoformat(),
                    "items": current["items"] if current else [], "note": ""}
            if request.user.role == Role.provider:
                form["provider"] = str(request.user.organisation_id)
        offered = {f"items.{i['code']}" for i in options["required"] + options["optional"]}
        return page(request, "careplans/new.html", status_code=status_code, form=form,
                    care_forms=list(CareForm), offered=offered, errors=context.pop("errors", {}),
                    error=context.pop("error", None), **options, **context)

    @get("/new")
    async def new(self, request: Request[Actor, Any, Any],
                  entitlement: EntitlementQuery) -> Template:
        return await self._new(request, entitlement)

    @post("/", status_code=200)
    async def create(self, request: Request[Actor, Any, Any],
                     data: URLEncodedBody[dict[str, Any]]) -> Any:
        posted = await request.form()
        entitlement_id = form_int(data, "entitlement")
        form = {name: str(data.get(name) or "") for name in
                ("care_form", "provider", "family_caregiver", "starts_on", "note")}
        form["items"] = [str(code) for code in posted.getall("items", [])]
        created: dict[str, Any] = {}

        async def transition() -> None:
            created.update(await service.propose_plan(
                request.user, entitlement_id, care_form=form["care_form"],
                provider_id=_optional_id(data, "provider"),
                family_caregiver_agreement_id=_optional_id(data, "family_caregiver"),
                items=form["items"], starts_on=_day(form["starts_on"]), note=form["note"]))

        async def render(**context: Any) -> Template:
            return await self._new(request, entitlement_id, form=form, **context)

        done = ("护理计划已提交，等待经办员确认" if request.user.role == Role.provider
                else "护理计划已保存并生效")
        response = await perform(request, transition, render=render, done=done,
                                 then="/care-plans", stale="")
        return Redirect(f"/care-plans/{created['id']}") if created else response

    async def _show(self, request: Request[Actor, Any, Any], plan_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        plan = await service.get_plan(request.user, plan_id)
        actor = request.user
        latest = plan["history"][-1] if plan["history"] else plan
        ids = [v["id"] for v in plan["history"]]
        return page(request, "careplans/detail.html", status_code=status_code, plan=plan,
                    categories=CATEGORY_LABELS, letters=await letters.letters_of(ids),
                    can_download=actor.role in letters.DOWNLOAD_ROLES,
                    can_reissue=(actor.role == Role.clerk and plan["state"] == PlanState.ACTIVE
                                 and letters.needs_letter(plan)),
                    can_decide=actor.role == Role.clerk and plan["state"] == PlanState.PROPOSED,
                    can_revise=plan["entitlement.state"] != "ENDED" and not any(
                        v["state"] == PlanState.PROPOSED for v in plan["history"]) and (
                        actor.role == Role.clerk or latest["id"] == plan["id"]),
                    timeline=await audit.timeline_of(
                        {"care_plan": [v["id"] for v in plan["history"]]}),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/{plan_id:int}")
    async def show(self, request: Request[Actor, Any, Any], plan_id: Id) -> Template:
        return await self._show(request, plan_id)

    async def _decide(self, request: Request[Actor, Any, Any], plan_id: int,
                      data: dict[str, str], done: str, decide: Any) -> Any:
        async def transition() -> None:
            await decide(form_int(data, "version"))

        async def render(**context: Any) -> Template:
            return await self._show(request, plan_id, form=data, **context)

        return await perform(request, transition, render=render, done=done,
                             then=f"/care-plans/{plan_id}",
                             stale="这份护理计划刚被其他人处理过，请核对最新情况后重新办理")

    @post("/{plan_id:int}/confirm", status_code=200)
    async def confirm(self, request: Request[Actor, Any, Any], plan_id: Id,
                      data: URLEncodedBody[dict[str, str]]) -> Any:
        async def decide(version: int) -> None:
            await service.confirm_plan(request.user, plan_id, version)

        return await self._decide(request, plan_id, data, "护理计划已确认并生效", decide)

    @post("/{plan_id:int}/reject", status_code=200)
    async def reject(self, request: Request[Actor, Any, Any], plan_id: Id,
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        async def decide(version: int) -> None:
            await service.reject_plan(request.user, plan_id, version, data.get("reason", ""))

        return await self._decide(request, plan_id, data, "护理计划已退回机构", decide)

    @get("/{plan_id:int}/letters/{letter_id:int}/letter.pdf")
    async def letter(self, request: Request[Actor, Any, Any], plan_id: Id,
                     letter_id: Id) -> File:
        """A care-plan letter (护理计划告知书) as stored when it was issued, with its PIN."""
        require_role(request.user, letters.DOWNLOAD_ROLES, "下载护理计划告知书")
        plan = await service.get_plan(request.user, plan_id)
        row = await letters.letter_of([v["id"] for v in plan["history"]], letter_id)
        if row["letter_sha256"]:  # it carries the household PIN: who opened it is recorded
            await audit.record(request.user, "care_plan.letter_downloaded", "care_plan",
                               plan_id, after={"letter": letter_id})
        return await pdf_file(row["letter_sha256"],
                              f"{letters.TITLE}-{plan['person.name']}-{row['issue_no']}.pdf",
                              object_type="care_plan", object_id=plan_id)

    @post("/{plan_id:int}/letters", status_code=200)
    async def reissue(self, request: Request[Actor, Any, Any], plan_id: Id,
                      data: URLEncodedBody[dict[str, str]]) -> Any:
        """A clerk issues the household a new PIN on a new letter; audited."""
        reason = data.get("letter_reason", "")

        async def transition() -> None:
            await letters.reissue(request.user, plan_id, reason)

        async def render(**context: Any) -> Template:
            return await self._show(request, plan_id, form={"letter_reason": reason},
                                    **context)

        return await perform(request, transition, render=render,
                             done="已重新出具护理计划告知书，正在生成，请稍后刷新后下载交给家属",
                             then=f"/care-plans/{plan_id}", stale="")
