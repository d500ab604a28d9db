"""Entitlement pages (list, detail with history; the clerk's suspend / resume / end) and the
decision letter download."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import File, Stream, Template

from ltc.audit import service as audit
from ltc.entitlements import service
from ltc.entitlements.rules import (
    CLERK_END_REASONS,
    END_REASONS,
    EntitlementState,
    source_label,
)
from ltc.entitlements.tables import Decision
from ltc.errors import InvalidInput, NotFound
from ltc.identity import Actor, Role, region_covers
from ltc.people.rules import mask_resident_id
from ltc.regions.interface import PlaceFilter, place_filter
from ltc.web.actions import perform
from ltc.web.exports import Page, keyset_page, paged_csv, pdf_file
from ltc.web.formatting import iso_date
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, StateQuery, form_int

STAFF = role_guard(Role.clerk, Role.reviewer)
EXPORT_PAGE = 500
EXPORT_HEADER = ["姓名", "身份证号", "村（居）", "失能等级", "状态", "开始日期", "有效期至",
                 "最后享受日", "终止原因", "核定编号"]
ACTIONS = {"suspend": "暂停待遇", "resume": "恢复待遇", "end": "终止待遇"}


def _day(data: dict[str, str], field: str) -> date:
    try:
        return date.fromisoformat(data.get(field, "").strip())
    except ValueError:
        raise InvalidInput("invalid_date", "日期格式有误", {field: "请选择日期"}) from None


def _query(status: str, q: str, renewal: bool, place: PlaceFilter) -> dict[str, str]:
    """The filters as the list's query string carries them (links, the audit record)."""
    return {"state": status, "q": q, "renewal": "true" if renewal else "",
            "town": place.town, "village": place.village}


class EntitlementPages(Controller):
    path = "/entitlements"
    guards = [STAFF]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                    q: FromQuery[str] = "", renewal: FromQuery[bool] = False,
                    town: FromQuery[str] = "", village: FromQuery[str] = "",
                    after: AfterId = 0) -> Template:
        place = await place_filter(request.user.region_path, town, village)
        rows = await service.list_entitlements(request.user, state=status, search=q,
                                               renewal_due=renewal, within=place.within,
                                               after_id=after)
        return page(request, "entitlements/list.html", rows=rows, state=status, q=q,
                    renewal=renewal, states=list(EntitlementState), place=place,
                    query=_query(status, q, renewal, place),
                    next_after=keyset_page(rows, 50)[1])

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                     q: FromQuery[str] = "", renewal: FromQuery[bool] = False,
                     town: FromQuery[str] = "", village: FromQuery[str] = "") -> Stream:
        """The list with its filters as CSV for Excel (UTF-8 with BOM), page by page; the
        export itself is audited. ID numbers are masked as on the page."""
        actor = request.user
        place = await place_filter(actor.region_path, town, village)

        async def fetch(after: int | None) -> Page:
            return keyset_page(await service.list_entitlements(
                actor, state=status, search=q, renewal_due=renewal, within=place.within,
                after_id=after or 0, limit=EXPORT_PAGE), EXPORT_PAGE)

        def line(r: dict[str, Any]) -> list[Any]:
            return [r["person.name"], mask_resident_id(r["person.resident_id"]),
                    r["person.village.name"], r["grade_label"],
                    EntitlementState(r["state"]).label, iso_date(r["starts_on"]),
                    iso_date(r["expires_on"]), iso_date(r["ends_on"]),
                    END_REASONS.get(r["end_reason"], ""), r["decision.number"]]

        return await paged_csv("entitlements.csv", EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "entitlement.exported", "entitlement_list",
                                   _query(status, q, renewal, place)))

    async def _show(self, request: Request[Actor, Any, Any], entitlement_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        row = await service.get_entitlement(request.user, entitlement_id)
        return page(request, "entitlements/detail.html", status_code=status_code, e=row,
                    can_manage=request.user.role == Role.clerk and row["state"] != "ENDED",
                    source_label=source_label,
                    end_reasons={code: END_REASONS[code] for code in CLERK_END_REASONS},
                    # from the decision that gave it: its making and its letter
                    timeline=await audit.timeline_of({"decision": [row["decision"]],
                                                      "entitlement": [entitlement_id]}),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/{entitlement_id:int}")
    async def show(self, request: Request[Actor, Any, Any], entitlement_id: Id) -> Template:
        return await self._show(request, entitlement_id)

    @post("/{entitlement_id:int}", status_code=200)
    async def act(self, request: Request[Actor, Any, Any], entitlement_id: Id,
                  data: URLEncodedBody[dict[str, str]]) -> Any:
        action = data.get("action", "")

        async def transition() -> None:
            version = form_int(data, "version")
            if action == "suspend":
                await service.suspend(request.user, entitlement_id, version,
                                      starts_on=_day(data, "starts_on"),
                                      reason=data.get("reason", ""))
            elif action == "resume":
                await service.resume(request.user, entitlement_id, version,
                                     resumes_on=_day(data, "resumes_on"),
                                     reason=data.get("reason", ""))
            elif action == "end":
                await service.end(request.user, entitlement_id, version,
                                  last_day=_day(data, "last_day"),
                                  reason_code=data.get("reason_code", ""),
                                  note=data.get("reason", ""))
            else:
                raise InvalidInput("invalid_request", "请选择要办理的操作", {"action": "未知操作"})

        async def render(**context: Any) -> Template:
            return await self._show(request, entitlement_id, form=data, **context)

        return await perform(request, transition, render=render,
                             done=f"已{ACTIONS.get(action, '办理')}",
                             then=f"/entitlements/{entitlement_id}",
                             stale="待遇资格刚被其他人或系统修改，请核对最新情况后重新办理")


class DecisionPages(Controller):
    path = "/decisions"
    guards = [STAFF]  # noqa: RUF012

    @get("/{decision_id:int}/letter.pdf")
    async def letter(self, request: Request[Actor, Any, Any], decision_id: Id) -> File:
        row = await Decision.select(Decision.number, Decision.letter_sha256,
                                    Decision.region_path).where(
            Decision.id == decision_id).first()
        actor = request.user
        if row is None or (actor.region_path and not region_covers(actor.region_path,
                                                                   row["region_path"])):
            raise NotFound("decision_not_found",
                           f"待遇核定 {decision_id} 不存在或不在您的管辖范围内")
        return await pdf_file(row["letter_sha256"], f"核定通知书-{row['number']}.pdf",
                              object_type="decision", object_id=decision_id)
