"""The admin's ruleset pages (评估规则): every stored version with its bands, matrix and
status — superseded versions with the reason — and setting the day a new version takes
effect."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template

from ltc import clock
from ltc.assessments import grading, rulesets
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, Role
from ltc.web.actions import perform
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import form_int


class RulesetPages(Controller):
    path = "/admin/rulesets"
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], status_code: int = 200,
                      **context: Any) -> Template:
        return page(request, "admin/rulesets.html", status_code=status_code,
                    rows=await rulesets.list_rulesets(), today=clock.today(),
                    levels=grading.LEVELS, level_labels=grading.LEVEL_LABELS,
                    grade_labels=GRADE_LABELS, form=context.pop("form", {}),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._render(request)

    @post("/activate", status_code=200)
    async def activate(self, request: Request[Actor, Any, Any],
                       data: URLEncodedBody[dict[str, str]]) -> Any:
        code = data.get("code", "")
        version = form_int(data, "version")

        async def transition() -> None:
            await rulesets.activate(request.user, code, version,
                                    data.get("effective_from", ""), data.get("note", ""))

        async def render(**context: Any) -> Template:
            return await self._render(request, form=data, **context)

        return await perform(request, transition, render=render,
                             done=f"{code} 第{version}版的生效日期已设定",
                             then="/admin/rulesets", stale="")
