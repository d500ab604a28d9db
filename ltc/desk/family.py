"""The family portal (家属端): a beneficiary's household on their own phone, signed in by the
QR code on the care-plan letter (护理计划告知书) and the household PIN printed on it.

They see the care plan, the visits of any month (and confirm or dispute each one, once),
the case's progress, the payments made for the person and who watched the assessment video;
they rate their satisfaction once a month. Every page they read is one audit event. A family
actor is scoped to one person (Actor.person_id): no id in an address reaches anyone else's
data, and every staff page refuses them (ltc.accounts.auth). It reads six contexts, so it
lives on the desk."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from ltc import clock
from ltc.accounts.sessions import renew_session_id
from ltc.applications import interface as applications
from ltc.applications import service as application_service
from ltc.assessments import interface as assessments
from ltc.audit import interface as audit_log
from ltc.careplans import interface as careplans
from ltc.db import StaleWrite
from ltc.desk.case import stage_of
from ltc.errors import DomainError, InvalidInput
from ltc.evidence import interface as evidence
from ltc.family import service as family
from ltc.family.rules import ANSWER_LABELS, Answer
from ltc.identity import SYSTEM, Actor, Role
from ltc.payouts import interface as payouts
from ltc.settings import Settings
from ltc.visits import interface as visits
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id

Form = URLEncodedBody[dict[str, str]]
MONTHS_BACK = 12  # the months the visits page offers
DONE = {Answer.confirmed: "已收到您的确认，谢谢",
        Answer.disputed: "已收到您的异议。医保经办机构会核实这次服务，核实前暂不结算"}


def _month(value: str | None, today: date) -> date:
    """The first day of a "YYYY-MM" month, this month when absent or unreadable."""
    try:
        return datetime.strptime((value or "").strip(), "%Y-%m").date()
    except ValueError:
        return clock.month_first(today)


def _months(today: date) -> list[date]:
    first = clock.month_first(today)
    months = [first]
    for _ in range(MONTHS_BACK - 1):
        months.append(clock.month_first(months[-1].replace(day=1) - timedelta(days=1)))
    return months


SIGNED_OUT = "/family/l"


class FamilySignInPages(Controller):
    """The letter's link: the PIN form, and signing in. Open without a session."""

    path = SIGNED_OUT

    @get("/", exclude_from_auth=True)
    async def signed_out(self, request: Request) -> Template:
        return page(request, "family/signed_out.html")

    @get("/{token:str}", exclude_from_auth=True)
    async def link(self, request: Request, token: str,
                   settings: NamedDependency[Settings]) -> Template:
        try:
            await family.open_link(settings.secret_key, token)
        except family.LinkRefused as refused:
            return _refused(request, refused)
        return page(request, "family/sign_in.html", token=token, errors={})

    @post("/{token:str}", exclude_from_auth=True, status_code=200)
    async def sign_in(self, request: Request, token: str, data: Form,
                      settings: NamedDependency[Settings]) -> Any:
        try:
            actor = await family.sign_in(settings.secret_key, token, data.get("pin", ""))
        except family.LinkRefused as refused:
            return _refused(request, refused)
        except InvalidInput as exc:
            return page(request, "family/sign_in.html", status_code=exc.status_code,
                        token=token, error=exc.message, errors=exc.fields)
        request.clear_session()
        request.set_session({"family_letter": actor.id, "signed_in_at": int(time.time())})
        renew_session_id(request.scope)
        return Redirect("/family")


def _refused(request: Request, refused: family.LinkRefused) -> Template:
    return page(request, "family/link_refused.html", status_code=refused.status_code,
                title=refused.title, message=refused.message, code=refused.code)


class FamilyPages(Controller):
    path = "/family"
    guards = [role_guard(Role.family)]  # noqa: RUF012

    @get("/")
    async def home(self, request: Request[Actor, Any, Any]) -> Template:
        actor = request.user
        await family.record_view(actor, "home")
        person_id = actor.person_id
        assert person_id is not None
        today = clock.today()
        month = clock.month_first(today)
        plan = await careplans.plan_summary(person_id)
        stage = None
        cases = await applications.applications_of(person_id)
        if cases:
            application = await application_service.get_application(SYSTEM, cases[0].id)
            stage = (await stage_of(application, today))[0]
        return page(request, "family/home.html", plan=plan, stage=stage, today=today,
                    rating=await family.rating_of_month(person_id, month),
                    visits=await _visits(person_id, month))

    @get("/visits")
    async def visits(self, request: Request[Actor, Any, Any], month: str | None = None
                     ) -> Template:
        return await self._visits_page(request, month)

    async def _visits_page(self, request: Request[Actor, Any, Any], month: str | None,
                           status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        today = clock.today()
        shown = _month(month, today)
        await family.record_view(actor, f"visits {shown:%Y-%m}")
        assert actor.person_id is not None
        return page(request, "family/visits.html", status_code=status_code, month=shown,
                    months=_months(today), visits=await _visits(actor.person_id, shown),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @post("/visits/{visit_id:int}", status_code=200)
    async def answer(self, request: Request[Actor, Any, Any], visit_id: Id, data: Form) -> Any:
        month = data.get("month", "")
        try:
            stored, new = await family.answer_visit(request.user, visit_id,
                                                    data.get("answer", ""), data.get("words", ""))
        except StaleWrite:
            # Either a second tap stored its answer at the same moment, or the visit itself
            # changed meanwhile (a reviewer's decision) and nothing was stored: say which.
            if not await family.answers_of(request.user.person_id, [visit_id]):
                return await self._visits_page(
                    request, month, status_code=409,
                    error="这次服务记录刚有变动，您的答复没有保存，请再提交一次")
            stored, new = None, False
        except InvalidInput as exc:
            return await self._visits_page(
                request, month, status_code=exc.status_code, error=exc.message,
                errors=exc.fields, form={"visit": visit_id, **data})
        except DomainError as exc:
            return await self._visits_page(request, month, status_code=exc.status_code,
                                           error=exc.message)
        flash(request, DONE[stored] if new and stored else "您已对这次服务作出答复，不需要再次提交",
              category="success")
        shown = _month(month, clock.today())
        return Redirect(f"/family/visits?month={shown:%Y-%m}#visit-{visit_id}")

    @post("/rating", status_code=200)
    async def rate(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        raw = data.get("score", "").strip()
        score = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 3 else None
        try:
            await family.rate(request.user, score, data.get("comment", ""))
        except DomainError as exc:
            flash(request, exc.message + "".join(
                f"（{m}）" for m in exc.fields.values()), category="error")
            return Redirect("/family#rating")
        flash(request, "谢谢您的评价，它会计入护理机构的满意率考核", category="success")
        return Redirect("/family#rating")

    @get("/payments")
    async def payments(self, request: Request[Actor, Any, Any]) -> Template:
        actor = request.user
        await family.record_view(actor, "payments")
        assert actor.person_id is not None
        lines = await payouts.paid_lines_of(actor.person_id)
        return page(request, "family/payments.html", lines=lines,
                    total_fen=sum(line.net_fen for line in lines))

    @get("/video")
    async def video(self, request: Request[Actor, Any, Any]) -> Template:
        actor = request.user
        await family.record_view(actor, "video views")
        assert actor.person_id is not None
        return page(request, "family/video.html", views=await video_views(actor.person_id))

    @post("/logout")
    async def logout(self, request: Request[Actor, Any, Any]) -> Redirect:
        request.clear_session()
        return Redirect(SIGNED_OUT)


async def _visits(person_id: int, month: date) -> list[dict[str, Any]]:
    """The month's visits with their items' names and the family's answer on each."""
    first, last = clock.month_bounds(month)
    found = await visits.visits_of_person(person_id, first, last)
    names = await careplans.item_names(sorted({c for v in found for c in v.items}))
    answers = await family.answers_of(person_id, [v.id for v in found])
    return [{"visit": v, "items": [names.get(c, c) for c in v.items],
             "answer": answers.get(v.id),
             "answer_label": ANSWER_LABELS[Answer(answers[v.id]["answer"])]
             if v.id in answers else ""} for v in found]


async def video_views(person_id: int) -> list[audit_log.Recorded]:
    """Who played the person's assessment videos, and when, from the audit log (the
    evidence context records `evidence.viewed` on the assessment for each view); photos
    are left out."""
    application_ids = [a.id for a in await applications.applications_of(person_id)]
    assessment_ids = await assessments.assessment_ids_of(application_ids)
    videos = await evidence.video_ids(assessment_ids)
    return [e for e in await audit_log.events_on("evidence.viewed", "assessment", assessment_ids)
            if e.after.get("evidence_id") in videos]
