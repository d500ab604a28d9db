"""回访抽样 pages for the clerk: the list of sampled visits (search; filters: month, provider,
result; paging; CSV) with the month's draws and their replay, drawing a month on demand,
and one call: masked phone and script, the full phone when the call is opened (audited),
and the result."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Response, Template

from ltc import clock
from ltc.audit import service as audit
from ltc.errors import DomainError
from ltc.identity import Actor, Role
from ltc.policy.rules import percent_text
from ltc.returnvisits import queries, rules, service
from ltc.returnvisits.rules import SATISFACTION, CallState, Outcome
from ltc.spotchecks.service import parse_month
from ltc.web.actions import perform
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id, form_int, page_number, whole_number

PAGE_SIZE = 50
STALE = "该回访刚被他人更新，请查看最新情况后再记录"


def _params(request: Request[Actor, Any, Any]) -> dict[str, str]:
    return {k: (request.query_params.get(k) or "").strip()
            for k in ("month", "provider", "result", "q")}


def _filters(chosen: dict[str, str]) -> queries.Filters:
    month: date | None = parse_month(chosen["month"]) if chosen["month"] else None
    return queries.filters_from(month, whole_number(chosen["provider"]), chosen["result"],
                                chosen["q"])


def _draw_view(row: dict[str, Any]) -> dict[str, Any]:
    record = json.loads(row["record"])
    return {**row, "candidates": len(record["candidates"]), "chosen": len(record["chosen"]),
            "replay_matches": rules.replay(record) == record["chosen"],
            "month_label": clock.month_label(row["month"])}


class ReturnVisitPages(Controller):
    path = "/return-visits"
    include_in_schema = False
    guards = [role_guard(Role.clerk, Role.admin)]  # noqa: RUF012

    async def _index(self, request: Request[Actor, Any, Any], status_code: int = 200,
                     **context: Any) -> Template:
        actor = request.user
        chosen = _params(request)
        try:
            filters = _filters(chosen)
            errors: dict[str, str] = {}
        except DomainError as exc:
            filters, errors = queries.Filters(), exc.fields
        rows, matched = await queries.list_calls(actor, filters)
        pages = max(1, -(-matched // PAGE_SIZE))
        number = page_number(request.query_params.get("page_number", "1"), pages)
        if number > 1:
            rows, matched = await queries.list_calls(actor, filters, page=number,
                                                     page_size=PAGE_SIZE)
        last_month = clock.previous_month(clock.month_first(clock.today()))
        return page(request, "returnvisits/list.html",
                    status_code=422 if errors and status_code == 200 else status_code,
                    rows=rows, matched=matched, page_number=number, pages=pages,
                    chosen=chosen, errors={**errors, **context.pop("errors", {})},
                    error=context.pop("error", None), form=context.pop("form", {}),
                    query=urlencode({k: v for k, v in chosen.items() if v}),
                    provider_choices=await queries.provider_choices(actor),
                    result_choices=queries.RESULT_CHOICES,
                    draws=[_draw_view(d) for d in await queries.draws(actor)],
                    regions=await service.regions_of(actor), last_month=f"{last_month:%Y-%m}",
                    can_draw=actor.role in service.DRAW_ROLES, percent=percent_text,
                    CallState=CallState, Outcome=Outcome)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._index(request)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        rows = await queries.all_calls(request.user, _filters(_params(request)))
        await audit.record_list_read(request.user, "returnvisit.exported", "return_visit_list",
                                     _params(request))

        async def lines():
            for line in queries.csv_rows(rows):
                yield line

        return csv_download("return-visits.csv", queries.CSV_HEADER, lines())

    @post("/draw", status_code=200)
    async def draw(self, request: Request[Actor, Any, Any],
                   data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await service.draw_month(request.user, data.get("region", ""),
                                     parse_month(data.get("month", "")))

        async def render(**context: Any) -> Template:
            context.pop("refusal", None)
            return await self._index(request, form=data, **context)

        return await perform(request, transition, render=render,
                             done="已抽取回访样本（同一月份重复抽取时保留第一次的结果）",
                             then="/return-visits?result=pending", stale=STALE)

    async def _call(self, request: Request[Actor, Any, Any], call_id: int, *,
                    opened: bool, status_code: int = 200, **context: Any) -> Template:
        row = await service.get_call(request.user, call_id,
                                     open_phone=opened and request.user.role == Role.clerk)
        return page(request, "returnvisits/call.html", status_code=status_code, call=row,
                    opened=opened, outcomes=list(Outcome), scores=list(SATISFACTION),
                    can_record=(request.user.role == Role.clerk
                                and row["state"] == CallState.PENDING),
                    CallState=CallState, Outcome=Outcome,
                    error=context.pop("error", None), errors=context.pop("errors", {}),
                    form=context.pop("form", {}))

    @get("/{call_id:int}")
    async def show(self, request: Request[Actor, Any, Any], call_id: Id) -> Template:
        return await self._call(request, call_id, opened=False)

    @get("/{call_id:int}/call", guards=[role_guard(Role.clerk)])
    async def call(self, request: Request[Actor, Any, Any], call_id: Id) -> Template:
        return await self._call(request, call_id, opened=True)

    @post("/{call_id:int}/result", guards=[role_guard(Role.clerk)], status_code=200)
    async def record(self, request: Request[Actor, Any, Any], call_id: Id,
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await service.record_result(
                request.user, call_id, form_int(data, "expected_version"),
                outcome=data.get("outcome", ""), satisfaction=data.get("satisfaction", ""),
                note=data.get("note", ""))

        async def render(**context: Any) -> Template:
            context.pop("refusal", None)
            return await self._call(request, call_id, opened=True, form=data, **context)

        done = ("已记录“否认服务”：该服务记录（或护理机构更正后的记录）已退回审核员复核；"
                "已审核不通过的记录维持不通过" if data.get("outcome") ==
                Outcome.denied else "已记录回访结果")
        return await perform(request, transition, render=render, done=done,
                             then=f"/return-visits/{call_id}", stale=STALE)


