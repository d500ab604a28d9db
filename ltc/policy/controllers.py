"""The admin's policy pages: every version of each pooling region, and a new version from a
future date, prefilled with the one in force."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template

from ltc import clock
from ltc.careplans.rules import CATEGORY_LABELS
from ltc.errors import InvalidInput
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, Role
from ltc.policy import service
from ltc.policy.form import describe, form_values, from_form
from ltc.policy.rules import MAX_GRADE, MIN_GRADE, PARAMETERS
from ltc.regions import interface as pooling_regions
from ltc.web.actions import perform
from ltc.web.guards import role_guard
from ltc.web.pages import page


def _effective_from(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("invalid_policy", "政策参数有误，请按提示修改",
                           {"effective_from": "请选择生效日期"}) from None


def _with_status(versions: list[dict[str, Any]], today: date,
                 item_names: dict[str, str]) -> list[dict[str, Any]]:
    """Each version (newest first) with whether it is in force, to come or past, and every
    value in words."""
    in_force = next((v["id"] for v in versions if v["effective_from"] <= today), None)
    for v in versions:
        v["status"] = ("施行中" if v["id"] == in_force
                       else "未生效" if v["effective_from"] > today else "已被取代")
        v["lines"] = describe(v["policy"], item_names)
    return versions


class PolicyPages(Controller):
    path = "/admin/policies"
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], status_code: int = 200,
                      **context: Any) -> Template:
        today = clock.today()
        items = await service.care_items()
        names = {i["code"]: i["name_zh"] for i in items}
        regions = [{**asdict(pool),
                    "versions": _with_status(await service.versions(pool.id), today, names)}
                   for pool in await pooling_regions.at_level("pooling")]
        form = context.pop("form", None)
        if form is None:
            current = next((r for r in regions if r["versions"]), None)
            form = {"region": current["code"] if current else ""}
            if current:
                in_force = await service.policy_in_force(current["path"], today)
                form.update(form_values(in_force.policy))
        grades = [(g, GRADE_LABELS[g]) for g in range(MIN_GRADE, MAX_GRADE + 1)]
        return page(request, "admin/policies.html", status_code=status_code, regions=regions,
                    parameters=PARAMETERS, form=form, today=today, grades=grades,
                    care_items=items, categories=CATEGORY_LABELS,
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._render(request)

    @post("/", status_code=200)
    async def add(self, request: Request[Actor, Any, Any],
                  data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await service.add_version(request.user, data.get("region", ""),
                                      _effective_from(data.get("effective_from", "")),
                                      from_form(data), data.get("note", ""))

        async def render(**context: Any) -> Template:
            return await self._render(request, form=data, **context)

        return await perform(request, transition, render=render, done="新的政策版本已保存",
                             then="/admin/policies", stale="")
