"""Agreement pages for clerks: the list (filters, search, keyset paging), the new-agreement
form per kind, and the agreement's page with its actions, document and timeline."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import File, Redirect, Stream, Template

from ltc import clock
from ltc.agreements import service
from ltc.agreements.rules import (
    AMENDABLE,
    FIELDS,
    GRADES,
    KIND_LABELS,
    QUALIFICATION_LABELS,
    RELATIONSHIPS,
    STATE_LABELS,
    AgreementKind,
    bed_rate_field,
)
from ltc.audit import service as audit
from ltc.errors import InvalidInput, NotFound
from ltc.identity import Actor, Role
from ltc.regions.interface import place_filter
from ltc.web.actions import perform
from ltc.web.exports import Page, keyset_page, paged_csv, pdf_file
from ltc.web.formatting import iso_date
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, form_int

EXPORT_PAGE = 500
EXPORT_HEADER = ["协议编号", "协议类型", "协议方", "被照护人", "起始日期", "终止日期", "状态",
                 "状态变更日期"]


def _query(filters: dict[str, Any]) -> dict[str, str]:
    """The filters as the list's query string carries them (links, the audit record)."""
    place = filters["place"]
    return {"q": filters["q"], "kind": filters["kind"], "state": filters["state"],
            "expiring": "true" if filters["expiring"] else "", "town": place.town,
            "village": place.village}


ACTIONS = {"activate": "协议已生效，协议文本正在生成", "suspend": "协议已暂停",
           "resume": "协议已恢复", "terminate": "协议已终止",
           "amend": "协议已变更，补充协议正在生成"}


def _day(data: dict[str, str], field: str) -> date | None:
    text = (data.get(field) or "").strip()
    if not text:
        return None  # the service says what is missing
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("invalid_date", "日期格式有误",
                           {field: "请按 2026-10-01 的格式填写日期"}) from None


def _number(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _posted_fields(kind: str, data: dict[str, str],
                   names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The form's inputs for an agreement of `kind` (only `names`, if given), as text: the
    service reads them."""
    wanted = FIELDS.get(kind, ()) if names is None else names
    fields: dict[str, Any] = {name: data.get(name, "") for name in wanted
                              if name != "bed_day_rates"}
    if "bed_day_rates" in wanted:
        fields["bed_day_rates"] = {grade: data.get(bed_rate_field(grade), "")
                                   for grade in GRADES}
    return fields


async def _amend(actor: Actor, agreement_id: int, version: int,
                 data: dict[str, str]) -> dict[str, Any]:
    """The amendment form: every amendable field of the kind, prefilled with the current
    terms (an unticked checkbox is a value too: home visits no longer provided)."""
    row = await service.get_agreement(actor, agreement_id)
    fields = _posted_fields(row["kind"], data, AMENDABLE[AgreementKind(row["kind"])])
    return await service.amend(actor, agreement_id, version,
                               effective_from=_day(data, "effective_from"),
                               reason=data.get("reason", ""), **fields)


class AgreementPages(Controller):
    path = "/agreements"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012

    async def _filters(self, request: Request[Actor, Any, Any]) -> dict[str, Any]:
        query = request.query_params
        place = await place_filter(request.user.region_path, query.get("town", ""),
                                   query.get("village", ""))
        kind, status = query.get("kind", ""), query.get("state", "")
        return {"kind": kind if kind in KIND_LABELS else "",
                "state": status if status in STATE_LABELS else "", "q": query.get("q", ""),
                "expiring": query.get("expiring", "") == "true", "place": place}

    async def _rows(self, actor: Actor, filters: dict[str, Any], after_id: int,
                    limit: int = service.PAGE_SIZE) -> list[dict[str, Any]]:
        return await service.list_agreements(
            actor, kind=filters["kind"], state=filters["state"], search=filters["q"],
            expiring=filters["expiring"], within=filters["place"].within, after_id=after_id,
            limit=limit)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], after: AfterId = 0) -> Template:
        filters = await self._filters(request)
        rows = await self._rows(request.user, filters, after)
        return page(request, "agreements/list.html", rows=rows, **filters,
                    query=_query(filters), kinds=KIND_LABELS, states=STATE_LABELS,
                    next_after=keyset_page(rows, service.PAGE_SIZE)[1])

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Stream:
        """The list with its filters as CSV for Excel, page by page; audited."""
        actor, filters = request.user, await self._filters(request)

        async def fetch(after: int | None) -> Page:
            return keyset_page(await self._rows(actor, filters, after or 0, EXPORT_PAGE),
                               EXPORT_PAGE)

        def line(a: dict[str, Any]) -> list[Any]:
            return [a["number"], a["kind_label"], a["party"], a["beneficiary.name"] or "",
                    iso_date(a["starts_on"]), iso_date(a["ends_on"]), a["state_label"],
                    iso_date(a["state_changed_on"])]

        return await paged_csv("agreements.csv", EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "agreement.exported", "agreement_list",
                                   _query(filters)))

    async def _new(self, request: Request[Actor, Any, Any], form: dict[str, Any],
                   status_code: int = 200, *, chosen: bool = False, **context: Any) -> Template:
        """The form; `chosen`: the organisation in `form` was chosen on the form itself, so
        one the clerk may not choose (another region's, another kind) is not found."""
        actor = request.user
        kind = form.get("kind", "")
        if kind not in KIND_LABELS:
            kind = ""
        named = _number(form.get("organisation", ""))
        organisation = await service.chosen_organisation(actor, kind, named)
        if chosen and named is not None and organisation is None and kind in (
                AgreementKind.provider, AgreementKind.staff):
            raise NotFound("organisation_not_found", f"机构 {named} 不存在或不在您的管辖范围内")
        beneficiary = _number(form.get("beneficiary", ""))
        policy = await service.policy_defaults(actor)
        return page(
            request, "agreements/new.html", status_code=status_code, kind=kind, form=form,
            kinds=KIND_LABELS, qualifications=QUALIFICATION_LABELS, relationships=RELATIONSHIPS,
            policy=policy, grades=policy.eligible_grades if policy else GRADES,
            bed_rate_field=bed_rate_field, today=clock.today(),
            register_account=await service.register_account(actor, organisation)
            if kind == AgreementKind.provider else None,
            organisations=await service.organisation_choices(actor, kind) if kind else [],
            staff=await service.staff_choices(actor, organisation)
            if kind == AgreementKind.staff else [],
            beneficiaries=await service.beneficiary_choices(
                actor, form.get("q", ""), beneficiary) if kind == AgreementKind.caregiver
            else [],
            errors=context.pop("errors", {}), error=context.pop("error", None), **context)

    @get("/new")
    async def new(self, request: Request[Actor, Any, Any], kind: FromQuery[str] = "",
                  organisation: FromQuery[str] = "", q: FromQuery[str] = "",
                  beneficiary: FromQuery[str] = "") -> Template:
        return await self._new(request, {"kind": kind, "organisation": organisation, "q": q,
                                         "beneficiary": beneficiary}, chosen=True)

    @post("/", status_code=200)
    async def create(self, request: Request[Actor, Any, Any],
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        kind = data.get("kind", "")
        created: dict[str, Any] = {}

        async def transition() -> None:
            created.update(await service.create_agreement(
                request.user, kind, **_posted_fields(kind, data)))

        async def render(**context: Any) -> Template:
            return await self._new(request, data, **context)

        response = await perform(request, transition, render=render,
                                 done="协议草稿已保存，请核对后办理生效", then="/agreements",
                                 stale="")
        return Redirect(f"/agreements/{created['id']}") if created else response

    async def _show(self, request: Request[Actor, Any, Any], agreement_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        row = await service.get_agreement(request.user, agreement_id)
        policy = await service.policy_defaults(request.user)
        return page(request, "agreements/detail.html", status_code=status_code, a=row,
                    register_account=await service.register_account(
                        request.user, row["organisation"], row["bank_account"])
                    if row["kind"] == AgreementKind.provider else None,
                    grades=policy.eligible_grades if policy else GRADES,
                    bed_rate_field=bed_rate_field, qualifications=QUALIFICATION_LABELS,
                    # the whole chain: the original's signing and every amendment
                    timeline=await audit.timeline_of(
                        {"agreement": [v["id"] for v in row["versions"]]}),
                    today=clock.today(), errors=context.pop("errors", {}),
                    error=context.pop("error", None), form=context.pop("form", {}), **context)

    @get("/{agreement_id:int}")
    async def show(self, request: Request[Actor, Any, Any], agreement_id: Id) -> Template:
        return await self._show(request, agreement_id)

    @post("/{agreement_id:int}/{action:str}", status_code=200)
    async def act(self, request: Request[Actor, Any, Any], agreement_id: Id,
                  action: FromPath[str],
                  data: URLEncodedBody[dict[str, str]]) -> Any:
        """activate | suspend | resume | terminate | amend, each from its own form on the
        page."""
        if action not in ACTIONS:
            raise NotFound("no_such_action", "没有这项办理操作")
        actor = request.user

        amended: dict[str, Any] = {}

        async def transition() -> None:
            version = form_int(data, "version")
            reason = data.get("reason", "")
            if action == "activate":
                await service.activate(actor, agreement_id, version)
            elif action == "suspend":
                await service.suspend(actor, agreement_id, version, reason=reason,
                                      from_day=_day(data, "from_day"))
            elif action == "resume":
                await service.resume(actor, agreement_id, version, reason=reason)
            elif action == "amend":
                amended.update(await _amend(actor, agreement_id, version, data))
            else:
                await service.terminate(actor, agreement_id, version, reason=reason,
                                        from_day=_day(data, "from_day"))

        async def render(**context: Any) -> Template:
            return await self._show(request, agreement_id, form={**data, "action": action},
                                    **context)

        response = await perform(request, transition, render=render, done=ACTIONS[action],
                                 then=f"/agreements/{agreement_id}",
                                 stale="协议刚被其他人或系统修改，请核对最新情况后重新办理")
        return Redirect(f"/agreements/{amended['id']}") if amended else response

    @get("/{agreement_id:int}/document.pdf")
    async def document(self, request: Request[Actor, Any, Any], agreement_id: Id) -> File:
        row = await service.get_agreement(request.user, agreement_id)
        return await pdf_file(row["document_sha256"], f"协议-{row['number']}.pdf",
                              object_type="agreement", object_id=agreement_id)
