"""The 政策沙盘 pages (issue 18): choose a pooling region, a past month, a policy version (a
draft not yet in force, or the one in force) and optionally another assessment ruleset; the
run is queued for a worker (ltc.payouts.sandbox) and its page updates itself until done,
then shows spend by town and benefit and the people whose month differs (search, filters,
paging, CSV). A ruleset's grades come from the 改判影响 dry run (ltc.desk.regrading), which
is why this lives on the desk."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Response, Template

from ltc import clock
from ltc.assessments.rulesets import list_rulesets
from ltc.audit import service as audit
from ltc.desk import regrading
from ltc.errors import InvalidInput
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, Role, region_covers
from ltc.money import plain_yuan
from ltc.payouts import sandbox
from ltc.payouts.rules import BENEFIT_LABELS, SandboxChange
from ltc.policy.service import versions
from ltc.regions.interface import names_by_code, pooling_regions
from ltc.web.actions import perform
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import page_number, whole_number

PAGE_SIZE = 50
FILTERS = ("q", "change", "town")
CSV_HEADER = ["姓名", "身份证号（脱敏）", "变化", "实际等级", "试算等级", "实际金额（元）",
              "试算金额（元）", "差额（元）"]


async def _regions(actor: Actor) -> list[dict[str, Any]]:
    return [r for r in await pooling_regions()
            if actor.region_path is None or region_covers(actor.region_path, r["path"])
            or region_covers(r["path"], actor.region_path)]


async def _policy_choices(regions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every region's versions, newest first; drafts (not yet in force) marked."""
    today = clock.today()
    found = []
    for region in regions:
        for v in await versions(region["id"]):
            found.append({"id": v["id"], "region": region["code"],
                          "label": f"{region['name']} 第{v['version']}版，"
                                   f"{v['effective_from']:%Y-%m-%d} 起"
                                   f"{'（草案，尚未生效）' if v['effective_from'] > today else ''}"
                                   f"{'：' + v['note'] if v['note'] else ''}"})
    return found


def _grade(grade: int) -> str:
    """Grade 0 on a difference row: no entitled line on that side."""
    return GRADE_LABELS[grade] if grade else "—"


def _month(value: str) -> date:
    try:
        return date.fromisoformat((value or "").strip()[:7] + "-01")
    except ValueError:
        raise InvalidInput("invalid_sandbox", "试算条件有误，请按提示修改",
                           {"month": "请选择月份"}) from None


class SandboxPages(Controller):
    path = "/policy/sandbox"
    guards = [role_guard(Role.admin, Role.reviewer)]  # noqa: RUF012

    async def _index(self, request: Request[Actor, Any, Any], status_code: int = 200,
                     **context: Any) -> Template:
        actor = request.user
        regions = await _regions(actor)
        default = clock.previous_month(clock.month_first(clock.today()))
        return page(request, "sandbox/index.html", status_code=status_code,
                    regions=regions, policies=await _policy_choices(regions),
                    rulesets=[r for r in await list_rulesets() if r["region"] is None],
                    runs=await sandbox.runs(actor), states=sandbox.STATE_LABELS,
                    default_month=f"{default:%Y-%m}", form=context.pop("form", {}),
                    error=context.pop("error", None), errors=context.pop("errors", {}),
                    **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._index(request)

    @post("/", status_code=200)
    async def start(self, request: Request[Actor, Any, Any],
                    data: URLEncodedBody[dict[str, str]]) -> Any:
        started: dict[str, Any] = {}

        async def transition() -> None:
            month = _month(data.get("month", ""))
            # none chosen: 0 names no version, refused with the other problems
            version = whole_number(data.get("policy_version")) or 0
            grades, ruleset = None, (data.get("ruleset") or "").strip()
            if ruleset:
                impact = await regrading.compute_impact(request.user, data.get("region", ""),
                                                        ruleset)
                grades = {r.person_id: r.new_grade for r in impact.rows
                          if r.new_grade != r.old_grade}
            started.update(await sandbox.start(request.user, data.get("region", ""), month,
                                               version, grades, ruleset))

        async def render(**context: Any) -> Template:
            return await self._index(request, form=data, **context)

        response = await perform(request, transition, render=render,
                                 done="试算已开始，页面会自动更新", then="/policy/sandbox",
                                 stale="")
        return Redirect(f"/policy/sandbox/{started['id']}") if started else response

    @get("/{run_id:int}")
    async def show(self, request: Request[Actor, Any, Any], run_id: int) -> Template:
        actor = request.user
        run = await sandbox.visible_run(actor, run_id)
        chosen = {k: (request.query_params.get(k) or "").strip() for k in FILTERS}
        summary = sandbox.summary_of(run)
        towns = sorted({s.town_path for s in summary})
        names = await names_by_code([t.split("/")[-1] for t in towns])
        done = run["state"] == "done"
        matched = await sandbox.people_count(run_id, **chosen) if done else 0
        newly_eligible = await sandbox.people_count(
            run_id, change=SandboxChange.eligible) if done else 0
        pages = max(1, -(-matched // PAGE_SIZE))
        number = page_number(request.query_params.get("page"), pages)
        rows = await sandbox.people(run_id, **chosen, offset=(number - 1) * PAGE_SIZE,
                                     size=PAGE_SIZE) if matched else []
        if rows:
            await audit.record_list_read(actor, "sandbox.people_read", "sandbox_run",
                                         {"run": run_id, **chosen, "page": number})
        by_benefit: dict[str, list[int]] = {}
        for s in summary:
            by_benefit.setdefault(s.benefit, [0, 0])
            by_benefit[s.benefit][0] += s.real_fen
            by_benefit[s.benefit][1] += s.new_fen
        return page(request, "sandbox/run.html", run=run, states=sandbox.STATE_LABELS,
                    summary=summary, town_names={t: names.get(t.split("/")[-1], t)
                                                 for t in towns},
                    by_benefit=by_benefit, benefits=BENEFIT_LABELS,
                    newly_eligible=newly_eligible, towns=towns, rows=rows,
                    chosen=chosen, matched=matched, pages=pages, page_number=number,
                    query=urlencode({k: v for k, v in chosen.items() if v}),
                    changes=list(SandboxChange), grade=_grade,
                    month_label=clock.month_label(run["month"]))

    @get("/{run_id:int}/export.csv")
    async def export(self, request: Request[Actor, Any, Any], run_id: int) -> Response:
        actor = request.user
        run = await sandbox.visible_run(actor, run_id)
        chosen = {k: (request.query_params.get(k) or "").strip() for k in FILTERS}
        first = await sandbox.people(run_id, **chosen, size=500)
        await audit.record_list_read(actor, "sandbox.exported", "sandbox_run",
                                     {"run": run_id, **chosen})

        async def lines():
            rows = first
            while rows:
                for r in rows:
                    yield [r["name"], r["resident_id_masked"], r["change_label"],
                           _grade(r["real_grade"]), _grade(r["new_grade"]),
                           plain_yuan(r["real_gross_fen"]), plain_yuan(r["new_gross_fen"]),
                           plain_yuan(r["new_gross_fen"] - r["real_gross_fen"])]
                if len(rows) < 500:
                    return
                rows = await sandbox.people(run_id, **chosen, after=rows[-1]["id"], size=500)

        return csv_download(f"sandbox-{run['id']}-{run['month']:%Y%m}.csv", CSV_HEADER,
                            lines())

