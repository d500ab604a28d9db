"""The monthly report 长护险月度运行情况: the dashboard's sections for a pooling region and
month printed to PDF (the same SVG charts), stored by its hash and recorded, audited; made on
the 2nd of each month by a job and on demand from the dashboard."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import anyio

from ltc import clock, db, documents
from ltc.audit import service as audit
from ltc.dashboard import service, views
from ltc.dashboard.tables import MonthlyReport
from ltc.errors import Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, Role, require_role
from ltc.regions import interface as regions

TEMPLATE = "pdf/monthly_report.html"
RENDERERS = frozenset({Role.reviewer, Role.admin})


async def context(code: str, month: date) -> dict[str, Any]:
    place = await regions.by_code(code)
    if place is None:
        raise NotFound("no_region", "没有这个统筹区")
    # The stored window ends with this month: a past month's report shows it up to that month.
    figures = await service.figures(service.Scope(code), clock.today())
    figures.months = [m for m in figures.months if m <= month]
    stamp = figures.refreshed_at
    return {"bureau": {"name": f"{place.name}长期护理保险"}, "region_name": place.name,
            "month_label": f"{month.year}年{month.month}月", "month": month,
            "refreshed": stamp.astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M") if stamp
            else "", "sections": await views.sections(figures, month)}


async def render(actor: Actor, code: str, month: date) -> dict[str, Any]:
    """Render the region's report of `month` (a past or the current month), store it and
    record it (one row per region and month, its file the newest); returns the row."""
    require_role(actor, RENDERERS, "生成月度运行报告")
    if month > clock.month_first(clock.today()):
        raise InvalidInput("future_month", "不能生成未来月份的报告",
                           {"month": "请选择已过去的月份"})
    from ltc import pdf  # WeasyPrint loads only in processes that render

    data = await anyio.to_thread.run_sync(
        functools.partial(pdf.render, TEMPLATE, await context(code, month)))
    sha256 = await anyio.to_thread.run_sync(documents.store, data)
    async with db.write_transaction():
        row = await MonthlyReport.select(MonthlyReport.id, MonthlyReport.sha256).where(
            (MonthlyReport.pooling_code == code) & (MonthlyReport.month == month)).first()
        if row is None:
            inserted = await MonthlyReport.insert(MonthlyReport(
                pooling_code=code, month=month, sha256=sha256, rendered_at=clock.now(),
                rendered_by=actor.id)).returning(MonthlyReport.id)
            report_id = inserted[0]["id"]
        else:
            report_id = row["id"]
            await MonthlyReport.update({
                MonthlyReport.sha256: sha256, MonthlyReport.rendered_at: clock.now(),
                MonthlyReport.rendered_by: actor.id,
                MonthlyReport.version: MonthlyReport.version + 1}).where(
                MonthlyReport.id == report_id)
        await audit.record(actor, "dashboard.report_rendered", "monthly_report", report_id,
                           before={"sha256": row["sha256"]} if row else None,
                           after={"region": code, "month": month.isoformat(),
                                  "sha256": sha256})
    return {"id": report_id, "sha256": sha256}


async def monthly(period_key_month: date) -> list[dict[str, Any]]:
    """The job on the 2nd: fresh figures, then every pooling region's report of the month
    before (the period "2027-01" reports December 2026)."""
    month = clock.previous_month(period_key_month)
    made = []
    for place in await regions.at_level("pooling"):
        await service.refresh(place.code)
        made.append(await render(SYSTEM, place.code, month))
    return made


async def reports(code: str) -> list[dict[str, Any]]:
    return await MonthlyReport.select(
        MonthlyReport.id, MonthlyReport.month, MonthlyReport.sha256,
        MonthlyReport.rendered_at).where(MonthlyReport.pooling_code == code).order_by(
        MonthlyReport.month, ascending=False).limit(24)


async def report_for_download(actor: Actor, report_id: int,
                              scope: service.Scope) -> dict[str, Any]:
    """A report of the actor's region, its download audited. A town's clerk gets none: the
    report is the whole region's (every town's spend), not their town's."""
    if scope.fixed_town:
        raise Forbidden("report_region_only", "月度运行报告是全统筹区的，乡镇经办人员不能查看")
    row = await MonthlyReport.select(
        MonthlyReport.id, MonthlyReport.month, MonthlyReport.sha256).where(
        (MonthlyReport.id == report_id)
        & (MonthlyReport.pooling_code == scope.pooling_code)).first()
    if row is None:
        raise NotFound("not_found", "没有这份月度报告")
    async with db.write_transaction():
        await audit.record(actor, "dashboard.report_downloaded", "monthly_report", report_id)
    return row
