"""The 改判影响 page for admins and reviewers: the dry run's counts by town and kind, the list
of people whose grade or eligibility would change (search, filters, paging, CSV), and — for
reviewers — raising a re-assessment for one person, with a reason."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Response, Template

from ltc.applications.regrading import raise_regrading
from ltc.assessments.regrade import ChangeKind
from ltc.assessments.rulesets import list_rulesets
from ltc.audit import service as audit
from ltc.desk import regrading
from ltc.errors import DomainError
from ltc.identity import Actor, Role, region_covers
from ltc.regions.interface import names_by_code, pooling_regions
from ltc.web.actions import perform
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import form_int, page_number

PAGE_SIZE = 50
QUERY_KEYS = ("region", "to", "q", "town", "kind", "page")


async def _choices(actor: Actor) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    regions = [r for r in await pooling_regions()
               if actor.region_path is None or region_covers(actor.region_path, r["path"])]
    if actor.region_path and not regions:  # a town's reviewer: their own town
        code = actor.region_path.split("/")[-1]
        names = await names_by_code([code])
        regions = [{"code": code, "name": names.get(code, code), "path": actor.region_path}]
    versions = [r for r in await list_rulesets() if r["region"] is None]
    return regions, versions


def _defaults(actor: Actor, params: dict[str, str], regions: list[dict[str, str]],
              versions: list[dict[str, Any]]) -> dict[str, str]:
    chosen = {k: (params.get(k) or "").strip() for k in QUERY_KEYS}
    if not chosen["region"]:
        own = actor.region_path.split("/")[-1] if actor.region_path else ""
        chosen["region"] = own or (regions[0]["code"] if regions else "")
    if not chosen["to"] and versions:
        newest = max((v for v in versions if v["code"] == "national-2021"),
                     key=lambda v: v["version"], default=versions[0])
        chosen["to"] = newest["key"]
    return chosen


class RegradingPages(Controller):
    path = "/regrading"
    guards = [role_guard(Role.admin, Role.reviewer)]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], params: dict[str, str],
                      status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        regions, versions = await _choices(actor)
        chosen = _defaults(actor, params, regions, versions)
        impact, problem, fields = None, None, {}
        try:
            impact = await regrading.compute_impact(actor, chosen["region"], chosen["to"])
        except DomainError as exc:
            problem, fields = exc.message, exc.fields
            status_code = max(status_code, exc.status_code)
        rows = regrading.filtered(impact.rows, search=chosen["q"], town=chosen["town"],
                                  kind=chosen["kind"]) if impact else []
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        number = page_number(chosen["page"], pages)
        base = {k: v for k, v in chosen.items() if k != "page" and v}
        towns = sorted({(r.town_code, r.town) for r in impact.rows}) if impact else []
        return page(request, "regrading/impact.html", status_code=status_code,
                    impact=impact, rows=rows[(number - 1) * PAGE_SIZE:number * PAGE_SIZE],
                    matched=len(rows), page_number=number, pages=pages, chosen=chosen,
                    query=urlencode(base), regions=regions, versions=versions, towns=towns,
                    kinds=list(ChangeKind), can_raise=actor.role == Role.reviewer,
                    open_case_label=regrading.open_case_label, problem=problem,
                    problem_fields=fields, error=context.pop("error", None),
                    errors=context.pop("errors", {}), form=context.pop("form", {}), **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._render(request, dict(request.query_params))

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        actor = request.user
        regions, versions = await _choices(actor)
        chosen = _defaults(actor, dict(request.query_params), regions, versions)
        impact = await regrading.compute_impact(actor, chosen["region"], chosen["to"])
        rows = regrading.filtered(impact.rows, search=chosen["q"], town=chosen["town"],
                                  kind=chosen["kind"])
        await audit.record_list_read(actor, "regrading.exported", "regrading_list", {
            k: chosen[k] for k in ("region", "to", "q", "town", "kind")})

        async def lines():
            for line in regrading.csv_rows(rows):
                yield line

        name = f"regrading-{chosen['region']}-{impact.target.replace('@', '-v')}.csv"
        return csv_download(name, regrading.CSV_HEADER, lines())

    @post("/raise", status_code=200)
    async def raise_reassessment(self, request: Request[Actor, Any, Any],
                                 data: URLEncodedBody[dict[str, str]]) -> Any:
        back = {k: data.get(k, "") for k in QUERY_KEYS if data.get(k)}

        async def transition() -> None:
            await raise_regrading(request.user, person_id=form_int(data, "person_id"),
                                  reason=data.get("reason", ""), ruleset=data.get("to", ""),
                                  assessment_id=form_int(data, "assessment_id"))

        async def render(**context: Any) -> Template:
            return await self._render(request, back, form=data, **context)

        return await perform(request, transition, render=render,
                             done="已发起重新评估：申请已受理，请经办员分派评估员",
                             then=f"/regrading?{urlencode(back)}", stale="")
