"""The case page (申请 … 享受待遇): the application with its actions, its assessments, where the
whole case stands (ltc.desk.case_stage) and one timeline of it. It reads the application, its
assessments, notice entries, decision and entitlement, so it lives on the desk."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template

from ltc import clock
from ltc.applications import service, supplement
from ltc.applications.controllers import INTAKE
from ltc.applications.deadline_pages import case_deadlines
from ltc.applications.deadlines import Deadline, DeadlineKind
from ltc.applications.reference import materials_checklist
from ltc.applications.rules import GROUND_LABELS, ApplicationState
from ltc.assessments import assignment
from ltc.assessments import service as assessments
from ltc.desk.case_stage import (
    AssessmentFact,
    CaseFacts,
    CaseStage,
    DecisionFact,
    EntitlementFact,
    NoticeFact,
    case_stage,
)
from ltc.entitlements.interface import CaseOutcome, outcome_of_application
from ltc.errors import DomainError, InvalidInput
from ltc.grades import Grade
from ltc.identity import Actor
from ltc.notices.interface import CaseNoticeEntry, entries_of_application
from ltc.web.actions import perform
from ltc.web.pages import page
from ltc.web.params import Id, form_int

DONE_MESSAGES = {
    "submit": "申请已提交",
    "accept": "申请已受理",
    "reject": "已作出不予受理决定，正在生成不予受理告知书",
    "request_materials": "已一次性告知补正材料，正在生成补正材料通知书",
    "receive_materials": "补正材料已登记，请审查并作出受理决定",
    "assign": "已随机分派两名评估员",
}


def case_facts(application: dict[str, Any], rows: list[dict[str, Any]],
               entries: list[CaseNoticeEntry], outcome: CaseOutcome | None,
               answer_due_on: date | None, today: date) -> CaseFacts:
    """The stage rule's facts from what the contexts return."""
    entry = entries[-1] if entries else None
    decision = outcome.decision if outcome else None
    held = outcome.entitlement if outcome else None
    return CaseFacts(
        state=application["state"], today=today, answer_due_on=answer_due_on,
        materials_due_on=application["materials_due_on"],
        closing_note=application["decision_note"],
        assessments=tuple(AssessmentFact(
            r["kind"], r["state"], r["due_on"],
            "、".join(n for n in (r["assessor_1.display_name"], r["assessor_2.display_name"])
                     if n)) for r in rows),
        notice=NoticeFact(entry.batch_number, entry.batch_state, entry.outcome, entry.ends_on,
                          entry.objections, entry.reassessment_assigned) if entry else None,
        decision=DecisionFact(decision.number, decision.eligible,
                              Grade.label_of(decision.grade), decision.decided_on)
        if decision else None,
        entitlement=EntitlementFact(held.state, held.starts_on, held.expires_on, held.ends_on)
        if held else None)


async def stage_of(application: dict[str, Any], today: date) -> tuple[
        CaseStage, list[dict[str, Any]], list[CaseNoticeEntry], CaseOutcome | None,
        list[Deadline]]:
    """Where the case stands, and the facts the case page shows along with it."""
    rows = await assessments.application_assessments(application["id"])
    entries = await entries_of_application(application["id"])
    outcome = await outcome_of_application(application["id"])
    deadlines = await case_deadlines(application)
    answer_due_on = next((d.due_on for d in deadlines if d.done_on is None
                          and d.kind in (DeadlineKind.ANSWER, DeadlineKind.RESUMED)), None)
    stage = case_stage(case_facts(application, rows, entries, outcome, answer_due_on, today))
    return stage, rows, entries, outcome, deadlines


class CasePages(Controller):
    path = "/applications"
    guards = [INTAKE]  # noqa: RUF012

    async def _case(self, request: Request[Actor, Any, Any], application_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        application = await service.get_application(actor, application_id)
        today = clock.today()
        stage, rows, entries, outcome, deadlines = await stage_of(application, today)
        timeline = await service.application_timeline(actor, application_id, {
            "notice_entry": [e.id for e in entries],
            "notice_batch": sorted({e.batch_id for e in entries}),
            "decision": [outcome.decision.id] if outcome else [],
            "entitlement": [outcome.entitlement.id] if outcome and outcome.entitlement else []})
        return page(
            request, "applications/case.html", status_code=status_code, app=application,
            state=ApplicationState(application["state"]), stage=stage,
            notice_entries=entries, outcome=outcome,
            materials=materials_checklist(), chosen=application["materials"],
            refusal_labels={str(code): label for code, label in GROUND_LABELS.items()},
            assessments=rows, timeline=timeline, deadlines=deadlines,
            suggested=supplement.suggested_materials(application["materials"],
                                                     bool(application["agent_name"])),
            default_due_on=supplement.default_due_on(today), today=today,
            grounds=context.pop("grounds", []), error=context.pop("error", None),
            errors=context.pop("errors", {}), form=context.pop("form", {}), **context)

    @get("/{application_id:int}")
    async def case(self, request: Request[Actor, Any, Any],
                   application_id: Id) -> Template:
        return await self._case(request, application_id)

    @post("/{application_id:int}", status_code=200)
    async def act(self, request: Request[Actor, Any, Any], application_id: Id,
                  data: URLEncodedBody[dict[str, Any]]) -> Any:
        actor = request.user
        action = data.get("action", "")
        version = form_int(data, "version")

        async def transition() -> Any:
            if action == "submit":
                return await service.submit_application(actor, application_id, version)
            if action == "accept":
                return await service.accept_application(actor, application_id, version)
            if action == "reject":
                return await service.reject_application(actor, application_id, version,
                                                        _list(data, "grounds"),
                                                        data.get("note", ""))
            if action == "request_materials":
                return await supplement.request_materials(
                    actor, application_id, version, _list(data, "materials"),
                    data.get("due_on", ""), data.get("note", ""))
            if action == "receive_materials":
                return await supplement.receive_materials(actor, application_id, version,
                                                          _list(data, "received"))
            if action == "assign":
                return await assignment.assign_assessors(actor, application_id, version)
            raise InvalidInput("unknown_action", "无法识别的操作，请刷新页面后重试")

        async def render(refusal: DomainError | None, **context: Any) -> Template:
            grounds = []
            if refusal is not None and refusal.code == "refusal_grounds_apply":
                grounds = [{"code": code, "message": message}
                           for code, message in refusal.fields.items()]
            return await self._case(
                request, application_id, grounds=grounds, form=data,
                enrolment_unknown=refusal is not None and refusal.code == "enrolment_unknown",
                **context)

        return await perform(
            request, transition, render=render, done=DONE_MESSAGES.get(action, ""),
            then=f"/applications/{application_id}",
            stale="该申请刚被其他人处理过，下面是最新状态，请核对后再操作")


def _list(data: dict[str, Any], name: str) -> list[str]:
    """A form's checkbox group: absent, one value or several."""
    values = data.get(name, [])
    return [values] if isinstance(values, str) else list(values)
