"""评估抽查 pages: the bureau's list of spot checks (search; filters: month, organisation,
finding; paging; CSV), the results per organisation and per assessor, the month's draws with their
replay; and the expert's queue. One check's page (record, video, finding) is in
ltc.desk.spotcheck_pages: it reads the assessment's evidence too."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.response import Response, Template

from ltc import clock
from ltc.audit import service as audit
from ltc.errors import DomainError
from ltc.identity import Actor, Role
from ltc.policy.rules import percent_text
from ltc.regions import interface as regions
from ltc.spotchecks import queries, rules, service
from ltc.spotchecks.rules import Finding, SpotCheckState
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import page_number, whole_number

PAGE_SIZE = 50


def _params(request: Request[Actor, Any, Any]) -> dict[str, str]:
    return {k: (request.query_params.get(k) or "").strip()
            for k in ("month", "organisation", "finding", "q")}


def _filters(chosen: dict[str, str]) -> queries.Filters:
    month: date | None = service.parse_month(chosen["month"]) if chosen["month"] else None
    organisation = whole_number(chosen["organisation"])
    return queries.filters_from(month, organisation, chosen["finding"], chosen["q"])


def _draw_view(row: dict[str, Any]) -> dict[str, Any]:
    record = json.loads(row["record"])
    return {**row, "candidates": len(record["candidates"]), "chosen": len(record["chosen"]),
            "replay_matches": rules.replay(record) == record["chosen"],
            "month_label": clock.month_label(row["month"])}


async def _draw_views(actor: Actor) -> list[dict[str, Any]]:
    rows = await queries.draws(actor)
    names = await regions.names_by_code([r["region_path"].rsplit("/", 1)[-1] for r in rows])
    return [{**_draw_view(r), "region_name": names.get(r["region_path"].rsplit("/", 1)[-1],
                                                       r["region_path"])} for r in rows]


class SpotCheckPages(Controller):
    path = "/spotchecks"
    include_in_schema = False

    @get("/", guards=[role_guard(Role.reviewer, Role.admin)])
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        actor = request.user
        chosen = _params(request)
        raw = request.query_params.get("page_number", "1")
        try:
            filters = _filters(chosen)
            errors: dict[str, str] = {}
        except DomainError as exc:
            filters, errors = queries.Filters(), exc.fields
        rows, matched = await queries.list_checks(actor, filters)
        pages = max(1, -(-matched // PAGE_SIZE))
        number = page_number(raw, pages)
        if number > 1:
            rows, matched = await queries.list_checks(actor, filters, page=number,
                                                      page_size=PAGE_SIZE)
        organisations, assessors = queries.summary(await queries.all_checks(actor, filters))
        return page(request, "spotchecks/list.html", status_code=422 if errors else 200,
                    rows=rows, matched=matched, page_number=number, pages=pages,
                    chosen=chosen, errors=errors, query=urlencode(
                        {k: v for k, v in chosen.items() if v}),
                    organisation_choices=await queries.organisation_choices(actor),
                    finding_choices=queries.FINDING_CHOICES,
                    by_organisation=organisations, by_assessor=assessors,
                    draws=await _draw_views(actor), percent=percent_text,
                    Finding=Finding, SpotCheckState=SpotCheckState)

    @get("/export.csv", guards=[role_guard(Role.reviewer, Role.admin)])
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        rows = await queries.all_checks(request.user, _filters(_params(request)))
        await audit.record_list_read(request.user, "spot_check.exported", "spot_check_list",
                                     _params(request))

        async def lines():
            for line in queries.csv_rows(rows):
                yield line

        return csv_download("spotchecks.csv", queries.CSV_HEADER, lines())

    @get("/mine", guards=[role_guard(Role.assessor)])
    async def mine(self, request: Request[Actor, Any, Any]) -> Template:
        return page(request, "spotchecks/mine.html",
                    rows=await service.expert_list(request.user))
