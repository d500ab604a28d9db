"""数据看板: the bureau's figures for reviewers, clerks (their own region; a town's clerk their
town) and the admin, each chart with its table and CSV; the budget form (admin) and the
monthly reports (生成 and 下载). Thin: figures come from ltc.dashboard.service/views.

No 局领导 role of its own: the leadership reads the monthly report (a PDF, made for them), and
a new role would have to be refused by every guard and queue that lists roles; reviewers and
the admin (who has every region) see the same page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import File, Redirect, Stream, Template

from ltc import clock, money
from ltc.dashboard import report, service, views
from ltc.errors import DomainError, InvalidInput, NotFound
from ltc.identity import Actor, Role
from ltc.regions import interface as regions
from ltc.web.exports import csv_download, pdf_file
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id, whole_number

Form = URLEncodedBody[dict[str, str]]


def _month(text: str, months: list[date], default: date) -> tuple[date, str | None]:
    """The month asked for if it is in the window; otherwise `default` (and a message when
    something unreadable was asked for)."""
    if not text.strip():
        return default, None
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        chosen = date(year, month, 1)
    except ValueError:
        chosen = None
    if chosen not in months:
        return default, (f"月份“{text[:20]}”不在近12个月内或无法识别，"
                         f"下面显示的是{clock.month_label(default)}")
    return chosen, None


class DashboardPages(Controller):
    path = "/dashboard"
    guards = [role_guard(Role.reviewer, Role.clerk, Role.admin)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], region: FromQuery[str] = "",
                    town: FromQuery[str] = "", month: FromQuery[str] = "") -> Template:
        return await self._index(request, region, town, month)

    async def _index(self, request: Request[Actor, Any, Any], region: str, town: str,
                     month: str, status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        scope = await service.scope_of(actor, region, town)
        figures = await service.figures(scope, clock.today())
        chosen, error = _month(month, figures.months, figures.default_month())
        budget = await service.budget_of(scope.pooling_code, chosen.year)
        return page(
            request, "dashboard/index.html", status_code=status_code, scope=scope,
            sections=await views.sections(figures, chosen), month=f"{chosen:%Y-%m}",
            month_label=clock.month_label(chosen), months=figures.months,
            error=context.pop("error", error), errors=context.pop("errors", {}),
            refreshed=figures.refreshed_at.astimezone(clock.CHINA) if figures.refreshed_at
            else None,
            poolings=await regions.at_level("pooling") if not actor.region_path else [],
            towns=[] if scope.fixed_town else await regions.at_level(
                "town", under=scope.pooling_code),
            town_name=(await regions.names_by_code([scope.town_code])).get(scope.town_code, ""),
            budget=budget, budget_yuan=money.plain_yuan(budget["amount_fen"]) if budget else "",
            # The region's report lists every town's spend: not a town clerk's to read.
            reports=None if scope.fixed_town else await report.reports(scope.pooling_code),
            can_render=actor.role in report.RENDERERS, form=context.pop("form", {}),
            **context)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], section: FromQuery[str] = "",
                     region: FromQuery[str] = "", town: FromQuery[str] = "",
                     month: FromQuery[str] = "") -> Stream:
        """One section's table for Excel (UTF-8 with BOM), as the page shows it."""
        scope = await service.scope_of(request.user, region, town)
        figures = await service.figures(scope, clock.today())
        chosen, _ = _month(month, figures.months, figures.default_month())
        found = [s for s in await views.sections(figures, chosen) if s.key == section]
        if not found:
            raise NotFound("no_section", "没有这张图表")

        async def lines() -> AsyncIterator[list[Any]]:
            for row in found[0].rows:
                yield row

        where = scope.town_code or scope.pooling_code
        return csv_download(f"dashboard-{section}-{where}-{chosen:%Y-%m}.csv",
                            found[0].header, lines())

    @post("/refresh", guards=[role_guard(Role.reviewer, Role.admin)])
    async def refresh(self, request: Request[Actor, Any, Any], data: Form) -> Redirect:
        """Make the figures again now (the job does it nightly)."""
        scope = await service.scope_of(request.user, data.get("region", ""))
        rows = await service.refresh(scope.pooling_code)
        flash(request, f"数据已更新（{rows}项）", category="success")
        return Redirect(f"/dashboard?region={scope.pooling_code}")

    @post("/budget", status_code=200, guards=[role_guard(Role.admin)])
    async def set_budget(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        region = data.get("region", "")
        try:
            try:
                amount = money.parse_yuan(data.get("amount", ""))
            except ValueError:
                amount = 0
            version = whole_number(data.get("version", "")) or None
            await service.set_budget(request.user, region, whole_number(
                data.get("year", "")) or 0, amount, version)
        except DomainError as exc:
            return await self._index(request, region, "", "", status_code=exc.status_code,
                                     error=exc.message, errors=exc.fields, form=dict(data))
        flash(request, "年度预算已保存", category="success")
        return Redirect(f"/dashboard?region={region}")

    @post("/reports", status_code=200, guards=[role_guard(Role.reviewer, Role.admin)])
    async def render_report(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        """生成月度报告 now, for the month on the page."""
        scope = await service.scope_of(request.user, data.get("region", ""))
        months = service.window(clock.today())
        chosen, error = _month(data.get("month", ""), months, months[-2])
        try:
            if error:
                raise InvalidInput("invalid_month", error, {"month": "请选择近12个月内的月份"})
            await report.render(request.user, scope.pooling_code, chosen)
        except DomainError as exc:
            return await self._index(request, scope.pooling_code, "", "",
                                     status_code=exc.status_code, error=exc.message,
                                     errors=exc.fields)
        flash(request, f"已生成{clock.month_label(chosen)}月度运行报告", category="success")
        return Redirect(f"/dashboard?region={scope.pooling_code}&month={chosen:%Y-%m}")

    @get("/reports/{report_id:int}/report.pdf")
    async def download(self, request: Request[Actor, Any, Any], report_id: Id,
                       region: FromQuery[str] = "") -> File:
        scope = await service.scope_of(request.user, region)
        row = await report.report_for_download(request.user, report_id, scope)
        return await pdf_file(row["sha256"], f"长护险月度运行情况-{row['month']:%Y-%m}.pdf",
                              object_type="monthly_report", object_id=report_id)
