"""事件订阅 and 事件投递 pages for admins (lists with search, filters, paging and CSV;
create with the secret shown once; detail; pause, resume, change; re-send) and the JSON API
`/api/v1/event-subscribers`, `/api/v1/event-deliveries` for admin tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post, put
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.plugins.flash import flash
from litestar.response import Redirect, Response, Template
from msgspec import Struct

from ltc.audit import service as audit
from ltc.db import StaleWrite
from ltc.decision_events import service
from ltc.errors import DomainError
from ltc.identity import Actor, Role
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id, PageSize, Version, form_int, page_number, whole_number

STALE = "该订阅方刚被其他人修改过，下面显示的是最新内容。请核对后重新操作。"
SUBSCRIBER_FILTERS = ("q", "status", "type")
DELIVERY_FILTERS = ("q", "state", "subscriber", "type")


def _chosen(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {k: (request.query_params.get(k) or "").strip() for k in names}


async def _form_data(request: Request) -> tuple[dict[str, str], list[str]]:
    form = await request.form()
    return ({k: str(v) for k, v in form.items() if k != "event_types"},
            [str(v) for v in form.getall("event_types")] if "event_types" in form else [])


async def _one_page(request: Request, fetch: Any, *args: Any) -> tuple[Any, int, int, int]:
    """The page the request asks for (clamped to those there are), how many rows match, its
    number and how many pages there are; `fetch(*args, page=…)` answers (rows, matched)."""
    rows, matched = await fetch(*args)
    pages = max(1, -(-matched // service.PAGE_SIZE))
    number = page_number(request.query_params.get("page_number", "1"), pages)
    if number > 1:
        rows, matched = await fetch(*args, page=number)
    return rows, matched, number, pages


class SubscriberPages(Controller):
    path = "/admin/event-subscribers"
    guards = [role_guard(Role.admin)]  # noqa: RUF012
    include_in_schema = False

    @get("/")
    async def list_page(self, request: Request[Actor, Any, Any]) -> Template:
        chosen = _chosen(request, SUBSCRIBER_FILTERS)
        rows, matched, number, pages = await _one_page(
            request, service.list_subscribers, request.user, chosen["q"], chosen["status"],
            chosen["type"])
        return page(request, "admin/event_subscribers.html", rows=rows, matched=matched,
                    page_number=number, pages=pages, chosen=chosen,
                    query=urlencode({k: v for k, v in chosen.items() if v}),
                    types=service.EVENT_TYPES)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        chosen = _chosen(request, SUBSCRIBER_FILTERS)
        rows = await service.all_subscribers(request.user, chosen["q"], chosen["status"],
                                             chosen["type"])

        async def lines():
            for row in rows:
                yield service.subscriber_csv_row(row)

        return csv_download("event-subscribers.csv", service.SUBSCRIBER_CSV_HEADER, lines())

    def _form(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(request, "admin/event_subscriber_form.html", status_code=status_code,
                    types=service.EVENT_TYPES, errors=context.pop("errors", {}),
                    error=context.pop("error", None), **context)

    @get("/new")
    async def new_page(self, request: Request[Actor, Any, Any]) -> Template:
        return self._form(request, form={}, chosen_types=[])

    @post("/new", status_code=200)
    async def create(self, request: Request[Actor, Any, Any]) -> Template:
        form, types = await _form_data(request)
        try:
            row, secret = await service.create(request.user, form.get("name", ""),
                                               form.get("url", ""), types)
        except DomainError as exc:
            return self._form(request, status_code=exc.status_code, form=form,
                              chosen_types=types, errors=exc.fields, error=exc.message)
        # Rendered, not redirected: the secret must not outlive this one answer.
        return await self._detail(request, row["id"], secret=secret)

    @get("/{subscriber_id:int}")
    async def detail(self, request: Request[Actor, Any, Any], subscriber_id: Id) -> Template:
        return await self._detail(request, subscriber_id)

    async def _detail(self, request: Request[Actor, Any, Any], subscriber_id: int,
                      status_code: int = 200, **context: Any) -> Template:
        s = await service.subscriber(request.user, subscriber_id)
        deliveries, _ = await service.list_deliveries(request.user, subscriber_id=subscriber_id,
                                                      page_size=20)
        return page(request, "admin/event_subscriber.html", status_code=status_code, s=s,
                    deliveries=deliveries, states=service.STATES, types=service.EVENT_TYPES,
                    timeline=await audit.timeline("event_subscriber", subscriber_id),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", None) or {**s, "chosen_types": s["event_types"]},
                    **context)

    @post("/{subscriber_id:int}/edit", status_code=200)
    async def change(self, request: Request[Actor, Any, Any], subscriber_id: Id) -> Any:
        form, types = await _form_data(request)
        try:
            await service.change(request.user, subscriber_id, form_int(form, "version"),
                                 form.get("name", ""), form.get("url", ""), types)
        except DomainError as exc:
            return await self._detail(request, subscriber_id, status_code=exc.status_code,
                                      errors=exc.fields, error=exc.message,
                                      form={**form, "chosen_types": types})
        except StaleWrite:
            return await self._detail(request, subscriber_id, status_code=409, error=STALE)
        flash(request, "订阅方已保存", category="success")
        return Redirect(f"/admin/event-subscribers/{subscriber_id}")

    @post("/{subscriber_id:int}/pause", status_code=200)
    async def pause(self, request: Request[Actor, Any, Any], subscriber_id: Id) -> Any:
        return await self._toggle(request, subscriber_id, service.pause, "已暂停推送")

    @post("/{subscriber_id:int}/resume", status_code=200)
    async def resume(self, request: Request[Actor, Any, Any], subscriber_id: Id) -> Any:
        return await self._toggle(request, subscriber_id, service.resume,
                                  "已恢复推送，积压的事件将按顺序补发")

    async def _toggle(self, request: Request[Actor, Any, Any], subscriber_id: int, act: Any,
                      done: str) -> Any:
        form, _ = await _form_data(request)
        try:
            await act(request.user, subscriber_id, form_int(form, "version"))
        except StaleWrite:
            return await self._detail(request, subscriber_id, status_code=409, error=STALE)
        flash(request, done, category="success")
        return Redirect(f"/admin/event-subscribers/{subscriber_id}")

    @post("/{subscriber_id:int}/resend-dead", status_code=200)
    async def resend_dead(self, request: Request[Actor, Any, Any], subscriber_id: Id) -> Any:
        count = await service.resend_dead(request.user, subscriber_id)
        flash(request, f"{count} 条死信已重新排队投递", category="success")
        return Redirect(f"/admin/event-subscribers/{subscriber_id}")


class DeliveryPages(Controller):
    path = "/admin/event-deliveries"
    guards = [role_guard(Role.admin)]  # noqa: RUF012
    include_in_schema = False

    @get("/")
    async def list_page(self, request: Request[Actor, Any, Any]) -> Template:
        chosen = _chosen(request, DELIVERY_FILTERS)
        rows, matched, number, pages = await _one_page(
            request, service.list_deliveries, request.user, chosen["q"], chosen["state"],
            whole_number(chosen["subscriber"]), chosen["type"])
        subscribers, _ = await service.list_subscribers(request.user, page_size=1000)
        return page(request, "admin/event_deliveries.html", rows=rows, matched=matched,
                    page_number=number, pages=pages, chosen=chosen,
                    query=urlencode({k: v for k, v in chosen.items() if v}),
                    states=service.STATES, types=service.EVENT_TYPES, subscribers=subscribers)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        chosen = _chosen(request, DELIVERY_FILTERS)
        rows = await service.all_deliveries(request.user, chosen["q"], chosen["state"],
                                            whole_number(chosen["subscriber"]),
                                            chosen["type"])

        async def lines():
            for row in rows:
                yield service.delivery_csv_row(row)

        return csv_download("event-deliveries.csv", service.DELIVERY_CSV_HEADER, lines())

    @get("/{delivery_id:int}")
    async def detail(self, request: Request[Actor, Any, Any], delivery_id: Id) -> Template:
        return page(request, "admin/event_delivery.html",
                    d=await service.delivery(request.user, delivery_id), states=service.STATES)

    @post("/{delivery_id:int}/resend", status_code=200)
    async def resend(self, request: Request[Actor, Any, Any], delivery_id: Id) -> Any:
        try:
            await service.resend(request.user, delivery_id)
        except DomainError as exc:
            flash(request, exc.message, category="error")
        else:
            flash(request, "已重新排队投递（新的24小时重试期）", category="success")
        return Redirect(f"/admin/event-deliveries/{delivery_id}")


# --- API -----------------------------------------------------------------------------------


class SubscriberIn(Struct):
    name: str
    url: str  # http:// or https:// with a host; events are POSTed here
    event_types: list[str]  # of grade.concluded, entitlement.started, … (see EventType)


class SubscriberChange(SubscriberIn, kw_only=True):
    version: Version  # the version you read


class VersionIn(Struct):
    version: Version


class SubscriberOut(Struct):
    id: int
    name: str
    url: str
    event_types: list[str]
    active: bool  # false: paused, deliveries accumulate
    created_at: datetime
    version: int


class SubscriberCreated(Struct):
    subscriber: SubscriberOut
    secret: str  # the HMAC signing secret: shown in this answer only, never again


class AttemptOut(Struct):
    number: int
    at: datetime
    status: int | None  # the HTTP status, none when no answer came
    answer: str  # the answer's first 500 characters
    error: str  # e.g. "HTTP 500", "超时未应答", "连接失败：…"
    duration_ms: int


class DeliveryOut(Struct):
    id: int
    subscriber: int
    event_id: str
    event_type: str
    stream: str  # person:<id> or payee:<key>
    sequence: int
    state: str  # pending | delivered | dead
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    delivered_at: datetime | None


class DeliveryDetailOut(DeliveryOut, kw_only=True):
    body: str  # the JSON exactly as sent
    attempt_log: list[AttemptOut]


class ResentOut(Struct):
    resent: int


def _subscriber_out(row: dict[str, Any]) -> SubscriberOut:
    return SubscriberOut(**{f: row[f] for f in SubscriberOut.__struct_fields__})


def _delivery_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {f: row[f] for f in DeliveryOut.__struct_fields__}


class EventSubscriberApi(Controller):
    """Errors: 422 `invalid_subscriber` (fields name each problem), 404
    `subscriber_not_found`, 409 `stale_write`."""

    path = "/api/v1/event-subscribers"
    tags = ["decision events"]  # noqa: RUF012
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    @get("/", summary="Subscribers of decision events (page by page)")
    async def list_subscribers(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                               status: FromQuery[str] = "", type: FromQuery[str] = "",
                               page: FromQuery[int] = 1, limit: PageSize = service.PAGE_SIZE,
                               ) -> list[SubscriberOut]:
        rows, _ = await service.list_subscribers(request.user, q, status, type,
                                                 page=max(1, min(page, 100000)),
                                                 page_size=limit)
        return [_subscriber_out(r) for r in rows]

    @post("/", summary="Register a subscriber; the answer holds its signing secret, once")
    async def create(self, request: Request[Actor, Any, Any],
                     data: JSONBody[SubscriberIn]) -> SubscriberCreated:
        row, secret = await service.create(request.user, data.name, data.url, data.event_types)
        return SubscriberCreated(subscriber=_subscriber_out(row), secret=secret)

    @get("/{subscriber_id:int}", summary="One subscriber (without its secret)")
    async def one(self, request: Request[Actor, Any, Any], subscriber_id: Id) -> SubscriberOut:
        return _subscriber_out(await service.subscriber(request.user, subscriber_id))

    @put("/{subscriber_id:int}", summary="Change name, URL or event types (send the version)")
    async def change(self, request: Request[Actor, Any, Any], subscriber_id: Id,
                     data: JSONBody[SubscriberChange]) -> SubscriberOut:
        return _subscriber_out(await service.change(request.user, subscriber_id, data.version,
                                                    data.name, data.url, data.event_types))

    @post("/{subscriber_id:int}/pause", summary="Pause: nothing is sent, events accumulate")
    async def pause(self, request: Request[Actor, Any, Any], subscriber_id: Id,
                    data: JSONBody[VersionIn]) -> SubscriberOut:
        return _subscriber_out(await service.pause(request.user, subscriber_id, data.version))

    @post("/{subscriber_id:int}/resume",
          summary="Resume: accumulated events are sent, in order per subject")
    async def resume(self, request: Request[Actor, Any, Any], subscriber_id: Id,
                     data: JSONBody[VersionIn]) -> SubscriberOut:
        return _subscriber_out(await service.resume(request.user, subscriber_id, data.version))

    @post("/{subscriber_id:int}/resend-dead",
          summary="Every dead delivery of the subscriber back to pending")
    async def resend_dead(self, request: Request[Actor, Any, Any],
                          subscriber_id: Id) -> ResentOut:
        return ResentOut(resent=await service.resend_dead(request.user, subscriber_id))


class EventDeliveryApi(Controller):
    """Errors: 404 `delivery_not_found`; 422 `delivery_pending` (re-send of a delivery that
    is still pending)."""

    path = "/api/v1/event-deliveries"
    tags = ["decision events"]  # noqa: RUF012
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    @get("/", summary="Deliveries, newest first (filter by state, subscriber, type)")
    async def list_deliveries(self, request: Request[Actor, Any, Any],
                              event_id: FromQuery[str] = "",
                              delivery_state: Annotated[str, Parameter(query="state")] = "",
                              subscriber: FromQuery[int] = 0, type: FromQuery[str] = "",
                              page: FromQuery[int] = 1, limit: PageSize = service.PAGE_SIZE,
                              ) -> list[DeliveryOut]:
        rows, _ = await service.list_deliveries(request.user, event_id, delivery_state,
                                                subscriber or None, type,
                                                page=max(1, min(page, 100000)),
                                                page_size=limit)
        return [DeliveryOut(**_delivery_fields(r)) for r in rows]

    @get("/{delivery_id:int}", summary="One delivery, its body and every attempt")
    async def one(self, request: Request[Actor, Any, Any], delivery_id: Id
                  ) -> DeliveryDetailOut:
        row = await service.delivery(request.user, delivery_id)
        return DeliveryDetailOut(**_delivery_fields(row), body=row["body"], attempt_log=[
            AttemptOut(**{f: a[f] for f in AttemptOut.__struct_fields__})
            for a in row["attempts"]])

    @post("/{delivery_id:int}/resend",
          summary="A dead or delivered delivery back to pending, with a fresh 24-hour window")
    async def resend(self, request: Request[Actor, Any, Any], delivery_id: Id) -> DeliveryOut:
        return DeliveryOut(**_delivery_fields(await service.resend(request.user, delivery_id)))
