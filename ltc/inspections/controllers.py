"""稽核 report pages: the findings of the nightly run (search; filters: month, rule, state,
provider; paging; CSV), with tallies per provider and per staff member. One finding's page
(with its visits and the reviewer's decision) is in ltc.desk.inspection_pages: it reads the
visits and people too."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.response import Response, Template

from ltc.audit import service as audit
from ltc.errors import InvalidInput
from ltc.identity import Actor, Role
from ltc.inspections import queries
from ltc.inspections.rules import Rule, State
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import page_number, whole_number

PAGE_SIZE = 50
_FIELDS = ("month", "rule", "state", "provider", "q")


def _params(request: Request[Actor, Any, Any]) -> dict[str, str]:
    return {k: (request.query_params.get(k) or "").strip() for k in _FIELDS}


def _filters(chosen: dict[str, str]) -> queries.Filters:
    return queries.filters_from(chosen["month"], chosen["rule"], chosen["state"],
                                whole_number(chosen["provider"]), chosen["q"])


class InspectionPages(Controller):
    path = "/inspections"
    include_in_schema = False
    guards = [role_guard(Role.reviewer, Role.admin)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        actor = request.user
        chosen = _params(request)
        try:
            filters, errors = _filters(chosen), {}
        except InvalidInput as exc:
            filters, errors = queries.Filters(), exc.fields
        rows, matched = await queries.list_findings(actor, filters, page_size=PAGE_SIZE)
        pages = max(1, -(-matched // PAGE_SIZE))
        number = page_number(request.query_params.get("page_number", "1"), pages)
        if number > 1:
            rows, matched = await queries.list_findings(actor, filters, page=number,
                                                        page_size=PAGE_SIZE)
        by_provider, by_staff = await queries.tallies(actor, filters)
        return page(request, "inspections/list.html", status_code=422 if errors else 200,
                    rows=rows, matched=matched, page_number=number, pages=pages,
                    chosen=chosen, errors=errors,
                    query=urlencode({k: v for k, v in chosen.items() if v}),
                    rule_choices=queries.RULE_CHOICES, state_choices=queries.STATE_CHOICES,
                    provider_choices=await queries.provider_choices(actor),
                    by_provider=by_provider, by_staff=by_staff, Rule=Rule, State=State)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        chosen = _params(request)
        rows = await queries.all_findings(request.user, _filters(chosen))
        await audit.record_list_read(request.user, "inspection.exported", "inspection_list",
                                     chosen)

        async def lines():
            for line in queries.csv_rows(rows):
                yield line

        return csv_download("inspections.csv", queries.CSV_HEADER, lines())
