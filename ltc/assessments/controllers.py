"""Assessment pages for assessors (the on-site form) and reviewers, and the JSON API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from ltc import clock
from ltc.assessments import bundled, experts, grading, rulesets, service, withdrawal
from ltc.assessments.rules import (
    EDITABLE,
    GUARDIAN_RELATIONSHIPS,
    AssessmentState,
    is_assessor_of,
)
from ltc.audit import service as audit
from ltc.errors import DomainError, InvalidInput
from ltc.evidence import service as evidence_service
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, Role
from ltc.web.actions import perform
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id, StateQuery, Version, VersionIn, form_int

STAFF = role_guard(Role.assessor, Role.reviewer, Role.clerk)
GUARDIAN_FIELDS = ("guardian_name", "guardian_relationship", "guardian_phone")


def _local(value: str) -> datetime | None:
    """A `datetime-local` field (civil time, no zone) as an aware datetime in Beijing time."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=clock.CHINA)


def _number(value: str) -> float | None:
    return float(value) if value.strip() else None


def _form_scores(data: dict[str, str]) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("score_") and value != "":
            code = key.removeprefix("score_")
            digits = value.lstrip("-")
            scores[code] = int(value) if digits.isascii() and digits.isdigit() else value
    return scores


def _posted_scores(data: dict[str, str]) -> dict[str, Any] | None:
    """The scores the user just sent, to re-show them after a refusal; None if none were."""
    return _form_scores(data) if data.get("scores_posted") else None


async def _preview(row: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
    ruleset_row = await service.ruleset_for(row["region_path"], clock.now())
    return grading.preview(scores, rulesets.of_row(ruleset_row))


class AssessmentPages(Controller):
    path = "/assessments"
    guards = [STAFF]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], assessment_id: int,
                      status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        row = await service.get_assessment(actor, assessment_id)
        scores = context.pop("scores", None)
        if scores is None:  # not re-showing a rejected form: show what is saved
            scores = row["scores"]
        evidence = await evidence_service.list_for_assessment(actor, assessment_id)
        state = AssessmentState(row["state"])
        editable = (actor.role == Role.assessor and is_assessor_of(actor.id, row)
                    and state in EDITABLE)
        expert_status = await experts.expert_status(row)
        return page(
            request, "assessments/assessment.html", status_code=status_code,
            a=row, state=state, scores=scores, instrument=bundled.load_instrument(),
            editable=editable, can_upload=editable, evidence=evidence,
            relationships=GUARDIAN_RELATIONSHIPS, guardian=context.pop("guardian", None) or row,
            reviewable=actor.role == Role.reviewer and state == AssessmentState.SUBMITTED,
            preview=await _preview(row, scores),
            missing=await service.submission_problems(row) if editable else {},
            timeline=await audit.timeline("assessment", assessment_id),
            errors=context.pop("errors", {}), error=context.pop("error", None),
            grade_labels=GRADE_LABELS, level_labels=grading.LEVEL_LABELS,
            ruleset_status=await rulesets.status_of(row["ruleset"]) if row["ruleset"] else None,
            assessment=row, expert_status=expert_status,
            can_confirm=(expert_status.missing > 0
                         and await experts.may_view_to_confirm(actor, row)),
            **context,
        )

    @get("/")
    async def my_list(self, request: Request[Actor, Any, Any],
                      status: StateQuery = "") -> Any:
        actor = request.user
        if actor.role == Role.assessor:
            rows = await service.my_assignments(actor, status)
            return page(request, "assessments/mine.html", rows=rows, state=status,
                        filters={k: label for k, (label, _) in service.MINE_FILTERS.items()},
                        to_confirm=len(await experts.confirmation_queue(actor)))
        return Redirect("/review") if actor.role == Role.reviewer else Redirect("/applications")

    @get("/confirmations")
    async def confirmations(self, request: Request[Actor, Any, Any]) -> Template:
        """专家确认: what this expert may confirm, with the record and the video."""
        return page(request, "assessments/confirmations.html",
                    rows=await experts.confirmation_queue(request.user))

    @get("/{assessment_id:int}")
    async def show(self, request: Request[Actor, Any, Any],
                   assessment_id: Id) -> Template:
        return await self._render(request, assessment_id)

    @post("/{assessment_id:int}/preview", status_code=200)
    async def preview(self, request: Request[Actor, Any, Any], assessment_id: Id,
                      data: URLEncodedBody[dict[str, str]]) -> Template:
        """htmx: the live totals and grade preview while the form is being filled."""
        row = await service.get_assessment(request.user, assessment_id)
        return page(request, "assessments/_preview.html",
                    preview=await _preview(row, _form_scores(data)),
                    grade_labels=GRADE_LABELS, level_labels=grading.LEVEL_LABELS)

    @post("/{assessment_id:int}", status_code=200)
    async def act(self, request: Request[Actor, Any, Any], assessment_id: Id,
                  data: URLEncodedBody[dict[str, str]]) -> Any:
        """One form, several buttons: the `action` says which transition the user asked for."""
        actor, action = request.user, data.get("action", "")

        async def transition() -> None:
            version = form_int(data, "version")
            if action in ("save", "sign", "submit"):
                if data.get("scores_posted"):
                    try:
                        started = _local(data.get("onsite_started_at", ""))
                        ended = _local(data.get("onsite_ended_at", ""))
                        latitude = _number(data.get("latitude", ""))
                        longitude = _number(data.get("longitude", ""))
                    except ValueError as exc:
                        raise InvalidInput("invalid_assessment",
                                           "时间或坐标格式不正确，请重新填写") from exc
                    after = await service.save_draft(
                        actor, assessment_id, expected_version=version,
                        scores=_form_scores(data), onsite_started_at=started,
                        onsite_ended_at=ended, latitude=latitude, longitude=longitude,
                        guardian_name=data.get("guardian_name", ""),
                        guardian_relationship=data.get("guardian_relationship", ""),
                        guardian_phone=data.get("guardian_phone", ""))
                    version = after["version"]
                if action == "sign":
                    await service.sign(actor, assessment_id, expected_version=version)
                elif action == "submit":
                    await service.submit(actor, assessment_id, expected_version=version)
            elif action == "conclude":
                await service.conclude(actor, assessment_id, expected_version=version)
            elif action == "return":
                await service.return_to_assessors(actor, assessment_id,
                                                  expected_version=version,
                                                  reason=data.get("reason", ""))
            elif action == "confirm":
                await experts.confirm(actor, assessment_id, expected_version=version,
                                      note=data.get("note", ""))
            elif action == "withdraw":
                await withdrawal.withdraw(actor, assessment_id, expected_version=version,
                                          reason=data.get("withdraw_reason", ""))
            else:
                raise InvalidInput("unknown_action", "无法识别的操作，请刷新页面后重试")

        async def render(refusal: DomainError | None, **context: Any) -> Template:
            # A refused form shows what the user sent; a stale one shows what is saved now.
            scores = _posted_scores(data) if refusal is not None else None
            guardian = ({key: data.get(key, "") for key in GUARDIAN_FIELDS}
                        if refusal is not None and data.get("scores_posted") else None)
            return await self._render(request, assessment_id, scores=scores,
                                      guardian=guardian, **context)

        return await perform(
            request, transition, render=render, done=DONE_MESSAGES.get(action, ""),
            # Withdrawn: the case is no longer theirs to see.
            then="/assessments/" if action == "withdraw" else f"/assessments/{assessment_id}",
            stale="这份评估刚被另一位评估员或审核员修改过，下面是最新内容，请核对后再操作")


DONE_MESSAGES = {
    "save": "已保存草稿",
    "sign": "已签名",
    "submit": "已提交审核",
    "conclude": "评估结论已确认",
    "return": "已退回评估员",
    "confirm": "已完成专家确认",
    "withdraw": "已申请回避，系统已另行抽取评估人员接替",
}


class ReviewPages(Controller):
    path = "/review"
    guards = [role_guard(Role.reviewer)]  # noqa: RUF012

    @get("/")
    async def queue(self, request: Request[Actor, Any, Any]) -> Template:
        rows = await service.review_queue(request.user)
        for row in rows:
            row["result"] = json.loads(row["result"])
        return page(request, "assessments/review_queue.html", rows=rows)


class DraftIn(Struct):
    version: Version
    scores: dict[str, int]
    onsite_started_at: datetime | None = None
    onsite_ended_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    guardian_name: str = ""
    guardian_relationship: str = ""  # one of 配偶 子女 父母 兄弟姐妹 其他亲属 委托代理人 其他
    guardian_phone: str = ""  # a mobile or a landline with area code; stored normalised


class ReturnIn(Struct):
    version: Version
    reason: str


class ConfirmIn(Struct):
    version: Version
    note: str = ""


class WithdrawIn(Struct):
    version: Version
    reason: str


class AssessmentOut(Struct):
    id: int
    state: str
    version: Version
    application_number: str
    scores: dict[str, int]
    signed_1: bool
    signed_2: bool
    grade: int | None
    result: dict[str, Any]
    guardian_name: str
    guardian_relationship: str
    guardian_phone: str  # in full: this is the one assessment, for the people working on it
    # The rest of the draft, so a client re-sending its scores over a newer draft can keep it
    # (the draft API replaces every field).
    onsite_started_at: datetime | None
    onsite_ended_at: datetime | None
    latitude: float | None
    longitude: float | None
    experts_missing: int  # expert confirmations still needed before the reviewer concludes


async def _out(actor: Actor, assessment_id: int) -> AssessmentOut:
    row = await service.get_assessment(actor, assessment_id)
    return AssessmentOut(
        id=row["id"], state=row["state"], version=row["version"],
        application_number=row["application.number"], scores=row["scores"],
        signed_1=row["signed_1_at"] is not None, signed_2=row["signed_2_at"] is not None,
        grade=row["grade"], result=row["result"], guardian_name=row["guardian_name"],
        guardian_relationship=row["guardian_relationship"],
        guardian_phone=row["guardian_phone"], onsite_started_at=row["onsite_started_at"],
        onsite_ended_at=row["onsite_ended_at"], latitude=row["latitude"],
        longitude=row["longitude"], experts_missing=(await experts.expert_status(row)).missing)


class AssessmentApi(Controller):
    path = "/api/v1/assessments"
    tags = ["assessments"]  # noqa: RUF012
    guards = [STAFF]  # noqa: RUF012

    @get("/{assessment_id:int}", summary="One assessment (assigned assessors, region staff)")
    async def show(self, request: Request[Actor, Any, Any],
                   assessment_id: Id) -> AssessmentOut:
        return await _out(request.user, assessment_id)

    @put("/{assessment_id:int}/draft", summary="Save recorded scores (partial allowed)")
    async def draft(self, request: Request[Actor, Any, Any], assessment_id: Id,
                    data: JSONBody[DraftIn]) -> AssessmentOut:
        await service.save_draft(
            request.user, assessment_id, expected_version=data.version, scores=data.scores,
            onsite_started_at=data.onsite_started_at, onsite_ended_at=data.onsite_ended_at,
            latitude=data.latitude, longitude=data.longitude, guardian_name=data.guardian_name,
            guardian_relationship=data.guardian_relationship, guardian_phone=data.guardian_phone)
        return await _out(request.user, assessment_id)

    @post("/{assessment_id:int}/sign", status_code=200, summary="Sign as one of the assessors")
    async def sign(self, request: Request[Actor, Any, Any], assessment_id: Id,
                   data: JSONBody[VersionIn]) -> AssessmentOut:
        await service.sign(request.user, assessment_id, expected_version=data.version)
        return await _out(request.user, assessment_id)

    @post("/{assessment_id:int}/submit", status_code=200, summary="Submit for review")
    async def submit(self, request: Request[Actor, Any, Any], assessment_id: Id,
                     data: JSONBody[VersionIn]) -> AssessmentOut:
        await service.submit(request.user, assessment_id, expected_version=data.version)
        return await _out(request.user, assessment_id)

    @post("/{assessment_id:int}/conclude", status_code=200,
          summary="Reviewer: confirm; the grade is fixed by the ruleset in force")
    async def conclude(self, request: Request[Actor, Any, Any], assessment_id: Id,
                       data: JSONBody[VersionIn]) -> AssessmentOut:
        await service.conclude(request.user, assessment_id, expected_version=data.version)
        return await _out(request.user, assessment_id)

    @post("/{assessment_id:int}/return", status_code=200,
          summary="Reviewer: return to the assessors with a reason")
    async def return_(self, request: Request[Actor, Any, Any], assessment_id: Id,
                      data: JSONBody[ReturnIn]) -> AssessmentOut:
        await service.return_to_assessors(request.user, assessment_id,
                                          expected_version=data.version, reason=data.reason)
        return await _out(request.user, assessment_id)

    @post("/{assessment_id:int}/confirm", status_code=200,
          summary="Expert not on site: confirm the conclusion (专家确认); safe to send twice")
    async def confirm(self, request: Request[Actor, Any, Any], assessment_id: Id,
                      data: JSONBody[ConfirmIn]) -> AssessmentOut:
        await experts.confirm(request.user, assessment_id, expected_version=data.version,
                              note=data.note)
        return await _out(request.user, assessment_id)

    @post("/{assessment_id:int}/withdraw", status_code=204,
          summary="Assigned assessor: withdraw (申请回避); a replacement is drawn")
    async def withdraw(self, request: Request[Actor, Any, Any], assessment_id: Id,
                       data: JSONBody[WithdrawIn]) -> None:
        await withdrawal.withdraw(request.user, assessment_id, expected_version=data.version,
                                  reason=data.reason)
