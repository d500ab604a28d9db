"""One spot check's page: the concluded assessment's record (scores, conclusion) and video
for the expert, who records 符合 / 不符合 here; the bureau reads it with the finding. It
reads spot checks, assessments and evidence, hence the desk."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template

from ltc.assessments.bundled import load_instrument
from ltc.errors import Forbidden
from ltc.evidence import service as evidence
from ltc.grades import Grade
from ltc.identity import Actor, Role
from ltc.spotchecks import service
from ltc.spotchecks.rules import Finding, SpotCheckState
from ltc.web.actions import perform
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id, form_int


class SpotCheckReviewPages(Controller):
    path = "/spotchecks"
    include_in_schema = False
    guards = [role_guard(Role.assessor, Role.reviewer, Role.admin)]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], check_id: int,
                      status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        row, record = await service.get_check(actor, check_id)
        try:
            videos = await evidence.list_for_assessment(actor, record.id)
        except Forbidden:  # an admin reads the finding, not the footage
            videos = []
        can_record = actor.role == Role.assessor and row["state"] == SpotCheckState.PENDING
        return page(request, "spotchecks/check.html", status_code=status_code, check=row,
                    record=record, scores=json.loads(record.scores),
                    result=json.loads(record.result), instrument=load_instrument(),
                    grade_label=Grade.label_of(record.grade), evidence=videos,
                    can_record=can_record, findings=list(Finding), Finding=Finding,
                    SpotCheckState=SpotCheckState, error=context.pop("error", None),
                    errors=context.pop("errors", {}), form=context.pop("form", {}))

    @get("/{check_id:int}")
    async def show(self, request: Request[Actor, Any, Any], check_id: Id) -> Template:
        return await self._render(request, check_id)

    @post("/{check_id:int}/finding", guards=[role_guard(Role.assessor)], status_code=200)
    async def record(self, request: Request[Actor, Any, Any], check_id: Id,
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await service.record_finding(
                request.user, check_id, form_int(data, "expected_version"),
                finding=data.get("finding", ""), notes=data.get("notes", ""))

        async def render(**context: Any) -> Template:
            return await self._render(request, check_id, form=data, **context)

        done = ("已记录“不符合”：已为该人员发起重新评估，由其他评估机构的评估员进行"
                if data.get("finding") == Finding.nonconform else "已记录抽查结论“符合”")
        return await perform(request, transition, render=render, done=done,
                             then=f"/spotchecks/{check_id}",
                             stale="该抽查刚被他人更新，请查看最新情况后再记录")
