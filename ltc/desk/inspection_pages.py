"""One 稽核 finding's page: the pattern's facts, its visits (each a link, with the person,
times and review state), and the reviewer's decision — confirmed (the visits rejected) or
cleared, with a reason. It reads findings, visits and people, hence the desk."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template

from ltc.audit import service as audit
from ltc.identity import Actor, Role
from ltc.inspections import service
from ltc.inspections.rules import DECISIONS, Rule, State
from ltc.people import interface as people
from ltc.visits import interface as visits
from ltc.visits.rules import Review
from ltc.web.actions import perform
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id, form_int

DECISION_LABELS = {"confirm": "确认违规（驳回所涉服务记录）", "clear": "排除（不是违规）"}


class InspectionFindingPages(Controller):
    path = "/inspections"
    include_in_schema = False
    guards = [role_guard(Role.reviewer, Role.admin)]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], finding_id: int,
                      status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        row = await service.finding(actor, finding_id)
        lines = await visits.visit_lines(row["visit_ids"])
        names = await people.briefs_of(sorted({v.person for v in lines}))
        await audit.record_list_read(actor, "inspection.viewed", "inspection_finding",
                                     {"finding": finding_id})
        return page(request, "inspections/finding.html", status_code=status_code,
                    finding=row, lines=lines, names=names, Rule=Rule, State=State,
                    Review=Review, decisions=[(d, DECISION_LABELS[d]) for d in DECISIONS],
                    can_decide=actor.role == Role.reviewer and row["state"] == State.open,
                    error=context.pop("error", None), errors=context.pop("errors", {}),
                    form=context.pop("form", {}))

    @get("/{finding_id:int}")
    async def show(self, request: Request[Actor, Any, Any], finding_id: Id) -> Template:
        return await self._render(request, finding_id)

    @post("/{finding_id:int}/decision", guards=[role_guard(Role.reviewer)], status_code=200)
    async def decide(self, request: Request[Actor, Any, Any], finding_id: Id,
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await service.decide(request.user, finding_id, form_int(data, "expected_version"),
                                 data.get("decision", ""), data.get("reason", ""))

        async def render(**context: Any) -> Template:
            context.pop("refusal", None)
            return await self._render(request, finding_id, form=data, **context)

        done = ("已确认违规，所涉服务记录已驳回" if data.get("decision") == "confirm"
                else "已排除这条稽核发现")
        return await perform(request, transition, render=render, done=done,
                             then=f"/inspections/{finding_id}",
                             stale="这条稽核发现刚被他人核实或更新，请查看最新情况")
