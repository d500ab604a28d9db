"""Notice pages: the clerk's batch management, and the public pages (no login) where anyone
reads current notices and files an objection."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import File, Redirect, Stream, Template

from ltc import clock
from ltc.audit import service as audit
from ltc.errors import InvalidInput
from ltc.identity import PUBLIC, Actor, Role
from ltc.notices import service
from ltc.notices.rules import NoticeBatchState
from ltc.regions import interface as regions
from ltc.settings import Settings
from ltc.web.actions import perform
from ltc.web.exports import Page, keyset_page, paged_csv, pdf_file
from ltc.web.formatting import iso_date, local_time
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, StateQuery, form_int, whole_number

CLERKS = role_guard(Role.clerk)
PAGE_SIZE = 50
EXPORT_PAGE = 500
EXPORT_HEADER = ["公示编号", "范围", "状态", "公示开始", "公示结束", "编制时间"]


def _date(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("invalid_date", "日期格式有误", {field: "请按 2026-10-01 的格式填写"}) \
            from None


async def _towns(actor: Actor) -> list[regions.Place]:
    return await regions.at_level(
        "town", under=actor.region_path.split("/")[0] if actor.region_path else None)



class NoticeBatchPages(Controller):
    path = "/notice-batches"
    guards = [CLERKS]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                    q: FromQuery[str] = "", todo: FromQuery[str] = "",
                    after: AfterId = 0) -> Template:
        status = status if status in tuple(NoticeBatchState) else ""
        todo = todo if todo in service.TODO_LABELS else ""
        rows = await service.list_batches(request.user, status, q, after, PAGE_SIZE + 1, todo)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return page(request, "notices/batches.html", batches=rows, state=status, q=q,
                    states=list(NoticeBatchState), todo=todo, todos=service.TODO_LABELS,
                    query={"state": status, "q": q, "todo": todo},
                    next_after=rows[-1]["id"] if more else None)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                     q: FromQuery[str] = "", todo: FromQuery[str] = "") -> Stream:
        """The list with its filters as CSV for Excel, page by page; audited."""
        actor = request.user
        status = status if status in tuple(NoticeBatchState) else ""
        todo = todo if todo in service.TODO_LABELS else ""

        async def fetch(before: int | None) -> Page:
            return keyset_page(await service.list_batches(actor, status, q, before or 0,
                                                          EXPORT_PAGE, todo), EXPORT_PAGE)

        def line(b: dict[str, Any]) -> list[Any]:
            return [b["number"], b["town.name"] + (b["village.name"] or ""),
                    NoticeBatchState(b["state"]).label, iso_date(b["starts_on"]),
                    iso_date(b["ends_on"]), local_time(b["created_at"])]

        return await paged_csv("notice-batches.csv", EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "notice_batch.exported", "notice_batch_list",
                                   {"state": status, "q": q, "todo": todo}))

    async def _new(self, request: Request[Actor, Any, Any], town: str, village: str,
                   status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        towns = await _towns(actor)
        chosen = next((t for t in towns if t.code == town), None)
        villages, cases = [], []
        if chosen:
            villages = await regions.children_of(town)
            scope = next((v.path for v in villages if v.code == village), chosen.path)
            cases = await service.noticeable(actor, scope)
        return page(request, "notices/new.html", status_code=status_code, towns=towns,
                    town=town, village=village, villages=villages, cases=cases,
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    **context)

    @get("/new")
    async def new(self, request: Request[Actor, Any, Any], town: FromQuery[str] = "",
                  village: FromQuery[str] = "") -> Template:
        return await self._new(request, town, village)

    @post("/", status_code=200)
    async def create(self, request: Request[Actor, Any, Any],
                     data: URLEncodedBody[dict[str, Any]]) -> Any:
        form = await request.form()
        ids = [n for v in form.getall("assessment_ids", []) if (n := whole_number(v))]
        town, village = data.get("town", ""), data.get("village", "")
        created: dict[str, Any] = {}

        async def transition() -> None:
            created.update(await service.create_batch(
                request.user, town_code=town, village_code=village, assessment_ids=ids))

        async def render(**context: Any) -> Template:
            return await self._new(request, town, village, **context)

        response = await perform(request, transition, render=render,
                                 done="公示已编制，请核对后发布", then="/notice-batches", stale="")
        return Redirect(f"/notice-batches/{created['id']}") if created else response

    async def _show(self, request: Request[Actor, Any, Any], batch_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        batch = await service.get_batch(request.user, batch_id)
        return page(request, "notices/batch.html", status_code=status_code, batch=batch,
                    channels=service.CHANNELS, relations=service.RELATIONS,
                    today=clock.today(), errors=context.pop("errors", {}),
                    error=context.pop("error", None), form=context.pop("form", {}),
                    timeline=await audit.timeline("notice_batch", batch_id), **context)

    @get("/{batch_id:int}")
    async def show(self, request: Request[Actor, Any, Any], batch_id: Id) -> Template:
        return await self._show(request, batch_id)

    @post("/{batch_id:int}/publish", status_code=200)
    async def publish(self, request: Request[Actor, Any, Any], batch_id: Id,
                      data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await service.publish(request.user, batch_id, form_int(data, "version"))

        async def render(**context: Any) -> Template:
            return await self._show(request, batch_id, **context)

        return await perform(request, transition, render=render,
                             done="公示已发布，公示文件正在生成",
                             then=f"/notice-batches/{batch_id}",
                             stale="其他经办员已修改此公示，请核对后再发布")

    @post("/{batch_id:int}/objections", status_code=200)
    async def record_objection(self, request: Request[Actor, Any, Any], batch_id: Id,
                               data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await service.record_objection(
                request.user, form_int(data, "entry"), objector_name=data.get("objector_name", ""),
                objector_phone=data.get("objector_phone", ""),
                relation=data.get("relation", ""), reason=data.get("reason", ""),
                channel=data.get("channel", ""), key=f"user:{request.user.id}",
                received_on=_date(data.get("received_on", ""), "received_on"))

        async def render(**context: Any) -> Template:
            return await self._show(request, batch_id, form=data, **context)

        return await perform(request, transition, render=render, done="异议已登记",
                             then=f"/notice-batches/{batch_id}", stale="")

    @post("/{batch_id:int}/entries/{entry_id:int}/reassessment", status_code=200)
    async def reassess(self, request: Request[Actor, Any, Any], batch_id: Id,
                       entry_id: Id) -> Any:
        async def transition() -> None:
            await service.assign_reassessment(request.user, entry_id, clock.today())

        async def render(**context: Any) -> Template:
            return await self._show(request, batch_id, **context)

        return await perform(request, transition, render=render, done="已分派重新评估",
                             then=f"/notice-batches/{batch_id}", stale="")

    @get("/{batch_id:int}/document.pdf")
    async def document(self, request: Request[Actor, Any, Any], batch_id: Id) -> File:
        batch = await service.get_batch(request.user, batch_id)
        return await pdf_file(batch["document_sha256"], f"公示-{batch['number']}.pdf",
                              object_type="notice_batch", object_id=batch_id)


class PublicNoticePages(Controller):
    """公示公告: no login. Only published notices, only masked entries."""

    path = "/"

    @get("/notices", exclude_from_auth=True)
    async def index(self, request: Request, town: FromQuery[str] = "") -> Template:
        return page(request, "notices/public_index.html", town=town,
                    towns=await service.public_towns(),
                    batches=await service.public_batches(clock.today(), town))

    @get("/n/{number:str}", exclude_from_auth=True)
    async def short(self, number: FromPath[str]) -> Redirect:
        """The short address printed on notice boards next to the QR code."""
        return Redirect(f"/notices/{number}")

    async def _show(self, request: Request, number: FromPath[str], status_code: int = 200,
                    **context: Any) -> Template:
        return page(request, "notices/public_notice.html", status_code=status_code,
                    batch=await service.public_batch(number), relations=service.RELATIONS,
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/notices/{number:str}", exclude_from_auth=True)
    async def show(self, request: Request, number: FromPath[str]) -> Template:
        return await self._show(request, number)

    @get("/notices/{number:str}/document.pdf", exclude_from_auth=True)
    async def document(self, number: FromPath[str]) -> File:
        batch = await service.public_batch(number)
        return await pdf_file(batch["document_sha256"], f"公示-{batch['number']}.pdf",
                              object_type="notice_batch", object_id=batch["id"])

    @post("/notices/{number:str}/objections", exclude_from_auth=True, status_code=200)
    async def object(self, request: Request, number: FromPath[str],
                     settings: NamedDependency[Settings],
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            if data.get("website"):  # a field people never see: only bots fill it in
                raise InvalidInput("invalid_objection", "提交未成功，请刷新页面后重试", {})
            batch = await service.public_batch(number)
            entry_id = form_int(data, "entry")
            if entry_id not in {e["id"] for e in batch["entries"]}:
                raise InvalidInput("invalid_objection", "请选择要提出异议的人员",
                                   {"entry": "请选择公示名单中的人员"})
            await service.record_objection(
                PUBLIC, entry_id,
                objector_name=data.get("objector_name", ""),
                objector_phone=data.get("objector_phone", ""), relation=data.get("relation", ""),
                reason=data.get("reason", ""), channel="online",
                key=service.client_key(request.client.host if request.client else "",
                                       settings.secret_key))

        async def render(**context: Any) -> Template:
            return await self._show(request, number, form=data, **context)

        return await perform(request, transition, render=render,
                             done="您的异议已提交。经办机构将依法核实并组织重新评估，如需联系会拨打您留下的电话。",
                             then=f"/notices/{number}", stale="")
