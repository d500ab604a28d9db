"""Visit pages and API: the provider's visit list and phone form (/visits), the reviewer's
queue of flagged visits (/visit-review), and POST/GET /api/v1/visits for apps."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Response, Stream, Template

from ltc import clock
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, Role
from ltc.organisations import interface as organisations
from ltc.visits import logging as visit_logging
from ltc.visits import queries
from ltc.visits import review as reviews
from ltc.visits.rules import OVERTURNABLE, REVIEW_LABELS, REVISION_REASONS, Review
from ltc.web.actions import perform
from ltc.web.exports import Page, keyset_page, paged_csv
from ltc.web.formatting import datetime_local, iso_date, local_time
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import DB_INT_MAX, AfterId, Id, whole_number

PROVIDERS = role_guard(Role.provider)
# A visit's page is read by bureau staff of its region too (read-only): a reviewer opening
# a visit from a case or a spot check, a clerk answering a complaint.
READERS = role_guard(Role.provider, Role.reviewer, Role.clerk, Role.admin)
EXPORT_HEADER = ["服务日期", "开始时间", "结束时间", "时长（分钟）", "受益人", "服务人员",
                 "护理机构", "服务项目", "审核状态", "异常提示"]


def _export_line(v: dict[str, Any]) -> list[Any]:
    return [iso_date(v["visit_on"]), local_time(v["started_at"]), local_time(v["ended_at"]),
            v["minutes"], v["person.name"], v["staff.display_name"], v["provider.name"],
            "、".join(v["item_labels"]), v["review_label"],
            "；".join(f["label"] for f in v["flags"])]

PersonQuery = Annotated[int, QueryParameter(ge=1, le=DB_INT_MAX)]
ReviewQuery = Annotated[str, QueryParameter(name="review")]


# --- reading what was sent -------------------------------------------------------------------

def _form_time(value: Any, field: str, unreadable: dict[str, str]) -> datetime | None:
    """An `<input type="datetime-local">` value: civil time in China."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        unreadable[field] = "请按 2026-12-10 09:00 的格式填写日期和时间"
        return None
    return moment.replace(tzinfo=clock.CHINA) if moment.tzinfo is None else moment


def _number(value: Any, field: str, unreadable: dict[str, str]) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        unreadable[field] = "应为数字（度）"
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        unreadable[field] = "应为数字（度）"
        return None


def _whole(value: Any, field: str, unreadable: dict[str, str]) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(
        value, bool) else ""
    if number := whole_number(text):
        return number
    unreadable[field] = "应为正整数编号"
    return None


_COORDINATES = ("checkin_latitude", "checkin_longitude", "checkout_latitude",
                "checkout_longitude")


def visit_from_form(form: Any) -> dict[str, Any]:
    """The keyword arguments of visit_logging.log_visit from the phone form."""
    unreadable: dict[str, str] = {}
    values = {
        "client_uuid": form.get("client_uuid", ""),
        "person_id": _whole(form.get("person_id"), "person_id", unreadable),
        "staff_id": _whole(form.get("staff_id"), "staff_id", unreadable),
        "service_type": form.get("service_type") or "home_visit",
        "started_at": _form_time(form.get("started_at"), "started_at", unreadable),
        "ended_at": _form_time(form.get("ended_at"), "ended_at", unreadable),
        "items": [str(v) for v in form.getall("items", [])],
        "notes": form.get("notes", ""), "family_confirmed_by": form.get("family_confirmed_by", ""),
        "confirmation_code": form.get("confirmation_code", ""),
        "signature_png": _signature(form.get("signature_png"), unreadable),
    }
    for name in _COORDINATES:
        values[name] = _number(form.get(name), name, unreadable)
    values["unreadable"] = unreadable
    return values


def _signature(value: Any, unreadable: dict[str, str]) -> bytes | None:
    """The family's signature as PNG Base64 (the form's signature pad, or an app)."""
    if value is None or value == "":
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        unreadable["signature_png"] = "签名图片应为 PNG 图片的 Base64 编码，请清除后重新签名"
        return None


def _json_time(value: Any, field: str, unreadable: dict[str, str]) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        unreadable[field] = "应为 ISO 8601 日期时间，如 2026-12-10T09:00:00+08:00"
    elif moment.tzinfo is None:
        unreadable[field] = "须带时区，如 2026-12-10T09:00:00+08:00"
        return None
    return moment


def _text(data: dict, field: str, unreadable: dict[str, str]) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        unreadable[field] = "应为字符串"
        return ""
    return value


def visit_from_json(data: Any) -> dict[str, Any]:
    """The keyword arguments of visit_logging.log_visit from an API body (see VisitApi.log)."""
    if not isinstance(data, dict):
        raise InvalidInput("invalid_visit", "请求体应为 JSON 对象", {"body": "应为 JSON 对象"})
    unreadable: dict[str, str] = {}
    items = data.get("items")
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        if items is not None:
            unreadable["items"] = "应为护理项目编号的数组，如 [\"B01\", \"B04\"]"
        items = []
    signature = _signature(data.get("signature_png"), unreadable)
    values = {
        "client_uuid": data.get("client_uuid"),
        "person_id": _whole(data.get("person_id"), "person_id", unreadable),
        "staff_id": _whole(data.get("staff_id"), "staff_id", unreadable),
        "service_type": _text(data, "service_type", unreadable) or "home_visit",
        "started_at": _json_time(data.get("started_at"), "started_at", unreadable),
        "ended_at": _json_time(data.get("ended_at"), "ended_at", unreadable),
        "items": items, "notes": _text(data, "notes", unreadable),
        "family_confirmed_by": _text(data, "family_confirmed_by", unreadable),
        "confirmation_code": _text(data, "confirmation_code", unreadable),
        "signature_png": signature,
        "recorded_at": _json_time(data.get("recorded_at"), "recorded_at", unreadable),
    }
    for name in _COORDINATES:
        values[name] = _number(data.get(name), name, unreadable)
    values["unreadable"] = unreadable
    return values


def _month(value: str) -> tuple[date | None, str]:
    """The first day of a "YYYY-MM" month filter, or None with why (an empty one: none)."""
    if not value.strip():
        return None, ""
    try:
        return datetime.strptime(value.strip(), "%Y-%m").date(), ""
    except ValueError:
        return None, "月份格式应为“年-月”，例如 2026-01；已显示全部月份"


# --- the provider's pages --------------------------------------------------------------------

class VisitPages(Controller):
    path = "/visits"
    guards = [READERS]  # noqa: RUF012

    @get("/", guards=[PROVIDERS])
    async def index(self, request: Request[Actor, Any, Any], review: ReviewQuery = "",
                    q: FromQuery[str] = "", month: FromQuery[str] = "",
                    after: AfterId = 0) -> Template:
        first, month_error = _month(month)
        rows = await queries.visits_for(request.user, review=review, search=q, month=first,
                                        after_id=after)
        return page(request, "visits/list.html", rows=rows, review=review, q=q,
                    month=month if first else "", month_error=month_error,
                    reviews=REVIEW_LABELS,
                    query={"review": review, "q": q, "month": month if first else ""},
                    due=await queries.due_visits(request.user, clock.today()),
                    today=clock.today(), next_after=keyset_page(rows, queries.PAGE_SIZE)[1])

    @get("/export.csv", guards=[PROVIDERS])
    async def export(self, request: Request[Actor, Any, Any], review: ReviewQuery = "",
                     q: FromQuery[str] = "", month: FromQuery[str] = "") -> Stream:
        """The organisation's visits with the filters as CSV for Excel; audited."""
        actor = request.user
        first, _ = _month(month)

        async def fetch(after: int | None) -> Page:
            return keyset_page(await queries.visits_for(actor, review=review, search=q,
                                                        month=first, after_id=after or 0),
                               queries.PAGE_SIZE)

        return await paged_csv("visits.csv", EXPORT_HEADER, fetch, _export_line,
                               audited=lambda: audit.record_list_read(
                                   actor, "visit.exported", "visit_list",
                                   {"review": review, "q": q, "month": month}))

    async def _form(self, request: Request[Actor, Any, Any], person_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        form = context.pop("form", None) or {"client_uuid": str(uuid.uuid4()),
                                             "staff_id": str(request.user.id or "")}
        return page(request, "visits/new.html", status_code=status_code,
                    f=await queries.visit_form(request.user, person_id, clock.today()),
                    form=form, checked=set(form.get("items", [])),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    **context)

    @get("/new", guards=[PROVIDERS])
    async def new(self, request: Request[Actor, Any, Any], person: PersonQuery) -> Template:
        """The visit form; its hidden client_uuid is made now, so submitting twice (a double
        tap, a retry after a dropped connection) records one visit."""
        return await self._form(request, person)

    @post("/", guards=[PROVIDERS], status_code=200)
    async def create(self, request: Request[Actor, Any, Any]) -> Any:
        form = await request.form()
        values = visit_from_form(form)
        logged: dict[str, Any] = {}

        async def transition() -> None:
            try:
                answer, _ = await visit_logging.log_visit(request.user, **values)
            except Conflict as exc:
                if exc.code != "uuid_reused":
                    raise
                raise Conflict("form_already_saved", "这份表单已经保存过，不能再改动后提交。"
                               "要登记另一次服务，请从“服务记录”重新打开登记页面；要修改已保存的"
                               "记录，请打开该记录使用“更正”。") from exc
            logged.update(answer)

        async def render(**context: Any) -> Template:
            shown = {k: form.get(k, "") for k in form}
            shown["items"] = [str(v) for v in form.getall("items", [])]
            return await self._form(request, values["person_id"] or 0, form=shown, **context)

        response = await perform(request, transition, render=render, done="服务记录已保存",
                                 then="/visits", stale="")
        return Redirect(f"/visits/{logged['id']}") if logged else response

    async def _show(self, request: Request[Actor, Any, Any], visit_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        return await _detail(request, visit_id, status_code, base="/visits", **context)

    @get("/{visit_id:int}")
    async def show(self, request: Request[Actor, Any, Any], visit_id: Id) -> Template:
        return await self._show(request, visit_id)

    @post("/{visit_id:int}/revisions", guards=[PROVIDERS], status_code=200)
    async def revise(self, request: Request[Actor, Any, Any], visit_id: Id) -> Any:
        form = await request.form()
        unreadable: dict[str, str] = {}
        changed = {
            "started_at": _form_time(form.get("started_at"), "started_at", unreadable),
            "ended_at": _form_time(form.get("ended_at"), "ended_at", unreadable),
            "items": [str(v) for v in form.getall("items", [])],
            "notes": form.get("notes", ""),
            "family_confirmed_by": form.get("family_confirmed_by", ""),
            "confirmation_code": form.get("confirmation_code", ""),
            "signature_png": _signature(form.get("signature_png"), unreadable),
        }
        revised: dict[str, Any] = {}

        async def transition() -> None:
            revised.update(await reviews.revise_visit(
                request.user, visit_id, form.get("reason_code", ""),
                form.get("revision_note", ""), unreadable=unreadable, **changed))

        async def render(**context: Any) -> Template:
            shown = {k: form.get(k, "") for k in form}
            shown["items"] = [str(v) for v in form.getall("items", [])]
            return await self._show(request, visit_id, form=shown, **context)

        response = await perform(request, transition, render=render,
                                 done="已更正：新记录已保存，原记录保留可查",
                                 then=f"/visits/{visit_id}",
                                 stale="这条记录刚被更正或审核，请查看最新记录后再操作")
        return Redirect(f"/visits/{revised['id']}") if revised else response


async def _detail(request: Request[Actor, Any, Any], visit_id: int, status_code: int = 200, *,
                  base: str, **context: Any) -> Template:
    actor = request.user
    visit = await queries.get_visit(actor, visit_id)
    form = context.pop("form", None)
    can_revise = (actor.role == Role.provider and not visit["superseded"]
                  and visit["review"] in (Review.accepted, Review.flagged))
    plan_items = []
    if can_revise:
        try:
            shown = await queries.visit_form(actor, visit["person"], visit["visit_on"])
            plan_items = shown["items"]
        except NotFound:  # no longer this organisation's beneficiary that day
            plan_items = []
        known = {i["code"] for i in plan_items}
        plan_items += [{"code": c, "name": label, "required": False, "nurse_only": False}
                       for c, label in zip(visit["items"], visit["item_labels"], strict=True)
                       if c not in known]
    if form is None:
        form = {"started_at": datetime_local(visit["started_at"]),
                "ended_at": datetime_local(visit["ended_at"]),
                "items": visit["items"], "notes": visit["notes"],
                "family_confirmed_by": visit["family_confirmed_by"], "confirmation_code": ""}
    return page(request, "visits/detail.html", status_code=status_code, v=visit, base=base,
                can_revise=can_revise, plan_items=plan_items, form=form,
                checked=set(form.get("items", [])), reasons=REVISION_REASONS,
                can_review=(actor.role == Role.reviewer and visit["review"] == Review.flagged
                            and not visit["superseded"]),
                can_overturn=(actor.role == Role.reviewer and visit["review"] in OVERTURNABLE
                              and not visit["superseded"]),
                timeline=await audit.timeline_of({"visit": [c["id"] for c in visit["chain"]]}),
                errors=context.pop("errors", {}), error=context.pop("error", None), **context)


# --- the reviewer's queue --------------------------------------------------------------------

class VisitReviewPages(Controller):
    path = "/visit-review"
    guards = [role_guard(Role.reviewer)]  # noqa: RUF012

    async def _queue(self, request: Request[Actor, Any, Any], after: int = 0,
                     status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        q = request.query_params.get("q", "")
        provider = whole_number(request.query_params.get("provider", "")) or 0
        status = _status(request.query_params.get("status", ""))
        rows = await queries.review_queue(actor, after_id=after, search=q, provider=provider,
                                          status=status)
        return page(request, "visits/review_queue.html", status_code=status_code, rows=rows,
                    total=await queries.review_queue_count(actor), after=after, q=q,
                    provider=provider, status=status, statuses=queries.REVIEW_STATUSES,
                    query={"q": q, "provider": provider or "", "status": status},
                    providers=await organisations.active_of_kind(actor, "provider",
                                                                order="name"),
                    next_after=keyset_page(rows, queries.PAGE_SIZE)[1],
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], after: AfterId = 0) -> Template:
        return await self._queue(request, after)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                     provider: AfterId = 0, status: FromQuery[str] = "") -> Stream:
        """The visits waiting for review, or those decided (`status`), filtered, as CSV for
        Excel; audited."""
        actor = request.user
        status = _status(status)

        async def fetch(after: int | None) -> Page:
            return keyset_page(await queries.review_queue(
                actor, after_id=after or 0, search=q, provider=provider or None,
                status=status), queries.PAGE_SIZE)

        def line(v: dict[str, Any]) -> list[Any]:
            return [*_export_line(v), v["review_reason"]]

        return await paged_csv("visit-review.csv", [*EXPORT_HEADER, "审核意见"], fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "visit.exported", "visit_review_list",
                                   {"q": q, "provider": provider, "status": status}))

    @get("/{visit_id:int}")
    async def show(self, request: Request[Actor, Any, Any], visit_id: Id) -> Template:
        return await _detail(request, visit_id, base="/visit-review")

    @post("/{visit_id:int}", status_code=200)
    async def decide(self, request: Request[Actor, Any, Any], visit_id: Id) -> Any:
        form = await request.form()
        decision = form.get("decision", "")
        back = form.get("back", "")

        async def transition() -> None:
            await reviews.review(request.user, visit_id, decision, form.get("reason", ""))

        async def render(**context: Any) -> Template:
            shown = {"visit_id": visit_id, "reason": form.get("reason", "")}
            if back == "detail":
                return await _detail(request, visit_id, base="/visit-review", form=None,
                                     review_form=shown, **context)
            return await self._queue(request, form=shown, **context)

        done = {"accept": "已审核通过", "reject": "已审核不通过"}.get(decision, "已审核")
        return await perform(request, transition, render=render, done=done,
                             then="/visit-review",
                             stale="这条记录刚被其他审核员审核或被机构更正，请刷新后查看")


    @post("/{visit_id:int}/overturn", status_code=200)
    async def overturn(self, request: Request[Actor, Any, Any], visit_id: Id) -> Any:
        """Overturn an accepted visit (e.g. after a spot check), with a mandatory reason."""
        form = await request.form()
        reason = form.get("reason", "")

        async def transition() -> None:
            await reviews.overturn(request.user, visit_id, reason)

        async def render(**context: Any) -> Template:
            return await _detail(request, visit_id, base="/visit-review", form=None,
                                 overturn_form={"reason": reason}, **context)

        return await perform(request, transition, render=render,
                             done="已撤销通过，该记录改为审核不通过；已结算的月份将在下一批结算中调整",
                             then=f"/visit-review/{visit_id}",
                             stale="这条记录刚被其他审核员审核或被机构更正，请刷新后查看")


def _status(value: str) -> str:
    return value if value in queries.REVIEW_STATUSES else "pending"


# --- the API ---------------------------------------------------------------------------------

class VisitApi(Controller):
    path = "/api/v1/visits"
    guards = [role_guard(Role.provider, Role.reviewer, Role.clerk)]  # noqa: RUF012

    @post("/", guards=[PROVIDERS], status_code=201, responses={200: ResponseSpec(
        dict[str, Any], description="A replay (same client_uuid and content): the first "
        "answer again, header X-LTC-Replayed: true, nothing created")})
    async def log(self, request: Request[Actor, Any, Any]) -> Response[dict[str, Any]]:
        """Log one visit. Authenticated by a provider's API token (`Authorization: Bearer …`;
        the token's organisation is the provider) or a provider's session (with the
        `x-csrftoken` header). JSON body:

        - `client_uuid` (string, required): a UUID the app makes once per visit; re-sending
          the same visit must reuse it.
        - `person_id` (integer, required): the beneficiary, one whose care plan names the
          provider.
        - `staff_id` (integer; required with a token): the staff member who visited, a user
          of the provider; a signed-in user logs for themselves when it is left out.
        - `service_type` (string, default `home_visit`).
        - `started_at`, `ended_at` (required): ISO 8601 with a time zone,
          e.g. `2026-12-10T09:00:00+08:00`; the end after the start, not in the future, at
          most 12 hours later.
        - `items` (required): care item codes done, e.g. `["B01", "B04", "B08"]`.
        - `notes` (string, optional).
        - `family_confirmed_by` (required): the family member who confirmed the visit, and
          the family's confirmation, at least one of: `signature_png` (the signature drawn
          on the phone, a PNG image, Base64, up to 512 KB) or `confirmation_code` (the
          household PIN, 6 digits, printed on the care-plan letter 护理计划告知书 the bureau
          gives the family). A PIN is checked against the household's current one; 5 wrong
          PINs for one beneficiary in a day lock PINs for them until the next day (a
          signature still works). The stored visit never holds the PIN: its
          `confirmation_code` reads `PIN` when one confirmed it, `PIN_UNCHECKED` when one
          sent with `recorded_at` could not be checked (it confirms nothing; flagged).
        - `checkin_latitude`, `checkin_longitude`, `checkout_latitude`, `checkout_longitude`
          (numbers in degrees, WGS 84, optional; each pair both or neither).
        - `recorded_at` (ISO 8601 with a time zone, optional): when a device recorded the
          visit while offline. Such a visit is never refused for what may have changed
          while it waited: a provider 暂停 or 退出 since, the day's care plan moved to
          another provider, or the plan in force now (and with it the household PIN) moved
          to another provider, logs it flagged `provider_inactive`, `plan_changed` or
          `pin_unchecked` for review.

        201: `{"id", "client_uuid", "person_id", "staff_id", "visit_on", "review"
        (accepted | flagged), "review_label", "flags": [{"code", "message"}], "revision_of"}`;
        a visit logged more than the policy's `late_entry_hours` (default 48) after it ended
        is flagged `late_entry` (补录) for review,
        header `X-LTC-Replayed: false`. The same `client_uuid` with the same content again:
        200 with the first answer and `X-LTC-Replayed: true`, nothing created. Errors
        (`{"error": {"code", "message", "fields"}}`): 422 `invalid_visit` naming every bad
        field; 422 `wrong_pin` (the PIN does not match; the message says how many tries
        are left today), `pin_locked` (5 wrong PINs today: sign instead, or try tomorrow) or
        `no_pin_issued` (no care-plan letter issued yet), each naming `confirmation_code`
        and every other bad field; 409 `uuid_reused` (the UUID was used for other content); 404
        `beneficiary_not_found`; 403 `wrong_role`, or `provider_not_active` (the provider is
        暂停 or 退出 in the organisation register)."""
        try:
            data = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:
            raise InvalidInput("invalid_visit", "请求体不是有效的 JSON",
                               {"body": str(exc)}) from exc
        answer, replayed = await visit_logging.log_visit(request.user, **visit_from_json(data))
        return Response(answer, status_code=200 if replayed else 201,
                        headers={"X-LTC-Replayed": "true" if replayed else "false"})

    @get("/{visit_id:int}")
    async def show(self, request: Request[Actor, Any, Any],
                   visit_id: Id) -> Response[dict[str, Any]]:
        """One visit: what was logged, its flags and review, and its place in the revision
        chain (`revision_of`, `superseded_by`)."""
        return Response(queries.api_view(await queries.get_visit(request.user, visit_id)))
