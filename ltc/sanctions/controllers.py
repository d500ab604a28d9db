"""Pages of sanctions (处理决定), the ban register (禁入名单) and provider exits (机构退出)
for clerks, and the public list of sanctioned organisations. Thin: parse, call
ltc.sanctions.service, render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Response, Template

from ltc import clock
from ltc.audit import service as audit
from ltc.db import StaleWrite
from ltc.errors import DomainError
from ltc.identity import Actor, Role
from ltc.organisations import interface as organisations
from ltc.people.rules import mask_resident_id
from ltc.sanctions import rules, service
from ltc.sanctions.rules import CATEGORY_LABELS, Category, ExitState, ItemState, Measure, Target
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, form_int, whole_number

Form = URLEncodedBody[dict[str, str]]
PAGE_SIZE = 50
STATES = {"current": "执行中", "ended": "已期满"}


def _filters(request: Request, names: Sequence[str]) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in names}


def _measure_label(row: dict[str, Any]) -> str:
    return Measure(row["measure"]).label_for(Target(row["target"]))


def _period(row: dict[str, Any]) -> str:
    end = row["ends_on"].isoformat() if row["ends_on"] else "不定期"
    return f"{row['starts_on'].isoformat()} 至 {end}"


def _labels() -> dict[str, Any]:
    return {"categories": CATEGORY_LABELS, "states": STATES, "measure_label": _measure_label,
            "period": _period, "mask": mask_resident_id, "Target": Target, "Measure": Measure,
            "exit_states": ExitState, "item_states": ItemState,
            "notice_months": rules.EXIT_NOTICE_MONTHS}


async def _export(request: Request[Actor, Any, Any], action: str, filters: dict[str, str],
                  filename: str, header: list[str],
                  fetch: Callable[..., Awaitable[list[dict[str, Any]]]],
                  line: Callable[[dict[str, Any]], list[Any]]) -> Response:
    await audit.record_list_read(request.user, action, "sanction_list", filters)

    async def lines():
        after = 0
        while rows := await fetch(request.user, **filters, after=after, limit=500):
            for row in rows:
                yield line(row)
            after = rows[-1]["id"]
            if len(rows) < 500:
                return

    return csv_download(filename, header, lines())


def _paged(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int | None]:
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1]["id"] if more else None)


SANCTION_FILTERS = ("q", "target", "measure", "state")
BAN_FILTERS = ("q", "category", "state")
EXIT_FILTERS = ("q", "state")


class SanctionPages(Controller):
    path = "/sanctions"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], after: AfterId = 0) -> Template:
        filters = _filters(request, SANCTION_FILTERS)
        rows, next_after = _paged(await service.list_sanctions(
            request.user, **filters, after=after, limit=PAGE_SIZE + 1))
        return page(request, "sanctions/list.html", rows=rows, filters=filters,
                    next_after=next_after, **_labels())

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        return await _export(
            request, "sanction.exported", _filters(request, SANCTION_FILTERS),
            "sanctions.csv", ["对象", "机构", "服务人员", "处理措施", "事由类别", "具体事由",
                              "处理依据", "期间"], service.list_sanctions,
            lambda r: [Target(r["target"]).label, r["organisation_name"],
                       r["staff_name"] or "", _measure_label(r),
                       CATEGORY_LABELS[Category(r["category"])], r["reason"],
                       r["legal_basis"], _period(r)])

    async def _form(self, request: Request, form: dict[str, Any], status_code: int = 200,
                    error: str | None = None, errors: dict[str, str] | None = None
                    ) -> Template:
        return page(request, "sanctions/form.html", status_code=status_code, form=form,
                    error=error, errors=errors or {},
                    organisations=await organisations.active_of_kind(request.user, "provider")
                    + await organisations.active_of_kind(request.user, "assessment"),
                    **_labels())

    @get("/new")
    async def new_page(self, request: Request[Actor, Any, Any]) -> Template:
        target = request.query_params.get("target", "organisation")
        party = request.query_params.get("party", "")
        return await self._form(request, {
            "target": target, "measure": "suspend",
            "staff_party" if target == Target.staff else "party": party})

    @post("/new", status_code=200)
    async def create(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        values = dict(data)
        if values.get("target") == Target.staff:
            values["party"] = values.get("staff_party", "")
        try:
            await service.record_sanction(request.user, values)
        except DomainError as exc:
            return await self._form(request, data, exc.status_code, exc.message, exc.fields)
        flash(request, "处理决定已记录", category="success")
        return Redirect("/sanctions")

    # --- the ban register ---------------------------------------------------------------

    @get("/bans")
    async def bans(self, request: Request[Actor, Any, Any], after: AfterId = 0) -> Template:
        return await self._bans(request, after)

    async def _bans(self, request: Request[Actor, Any, Any], after: int = 0,
                    status_code: int = 200, **context: Any) -> Template:
        filters = _filters(request, BAN_FILTERS)
        rows, next_after = _paged(await service.list_bans(
            request.user, **filters, after=after, limit=PAGE_SIZE + 1))
        return page(request, "sanctions/bans.html", status_code=status_code, rows=rows,
                    filters=filters, next_after=next_after, form=context.pop("form", {}),
                    errors=context.pop("errors", {}), **context, **_labels())

    @get("/bans/export.csv")
    async def export_bans(self, request: Request[Actor, Any, Any]) -> Response:
        return await _export(
            request, "ban.exported", _filters(request, BAN_FILTERS), "bans.csv",
            ["姓名", "身份证号（脱敏）", "事由类别", "具体事由", "处理依据", "禁入期间"],
            service.list_bans,
            lambda r: [r["name"], mask_resident_id(r["resident_id"]),
                       CATEGORY_LABELS[Category(r["category"])], r["reason"],
                       r["legal_basis"], _period(r)])

    @post("/bans", status_code=200)
    async def create_ban(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        try:
            await service.record_ban(request.user, dict(data))
        except DomainError as exc:
            return await self._bans(request, status_code=exc.status_code, form=data,
                                    error=exc.message, errors=exc.fields)
        flash(request, "已登记禁入名单", category="success")
        return Redirect("/sanctions/bans")

    # --- provider exits -------------------------------------------------------------------

    @get("/exits")
    async def exits(self, request: Request[Actor, Any, Any], after: AfterId = 0) -> Template:
        filters = _filters(request, EXIT_FILTERS)
        rows, next_after = _paged(await service.list_exits(
            request.user, **filters, after=after, limit=PAGE_SIZE + 1))
        return await self._exits(request, rows, filters, next_after)

    async def _exits(self, request: Request[Actor, Any, Any], rows: list[dict[str, Any]],
                     filters: dict[str, str], next_after: int | None, status_code: int = 200,
                     **context: Any) -> Template:
        return page(request, "sanctions/exits.html", status_code=status_code, rows=rows,
                    filters=filters, next_after=next_after, today=clock.today(),
                    earliest=rules.earliest_exit(clock.today()),
                    providers=await organisations.active_of_kind(request.user, "provider"),
                    form=context.pop("form", {}), errors=context.pop("errors", {}),
                    **context, **_labels())

    @get("/exits/export.csv")
    async def export_exits(self, request: Request[Actor, Any, Any]) -> Response:
        return await _export(
            request, "provider_exit.exported", _filters(request, EXIT_FILTERS), "exits.csv",
            ["护理机构", "告知日期", "退出日期", "状态", "待交接人数", "原因"], service.list_exits,
            lambda r: [r["organisation_name"], r["notice_on"].isoformat(),
                       r["exit_on"].isoformat(), ExitState(r["state"]).label,
                       r["open_items"], r["reason"]])

    @post("/exits", status_code=200)
    async def give_notice(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        try:
            row = await service.give_notice(request.user, dict(data))
        except DomainError as exc:
            filters = _filters(request, EXIT_FILTERS)
            rows, next_after = _paged(await service.list_exits(request.user, **filters,
                                                               limit=PAGE_SIZE + 1))
            return await self._exits(request, rows, filters, next_after, exc.status_code,
                                     form=data, error=exc.message, errors=exc.fields)
        flash(request, "已登记机构退出，请逐一确认服务对象的交接", category="success")
        return Redirect(f"/sanctions/exits/{row['id']}")

    async def _exit(self, request: Request[Actor, Any, Any], exit_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        return page(request, "sanctions/exit.html", status_code=status_code,
                    row=await service.get_exit(request.user, exit_id),
                    errors=context.pop("errors", {}), **context, **_labels())

    @get("/exits/{exit_id:int}")
    async def exit_page(self, request: Request[Actor, Any, Any], exit_id: Id) -> Template:
        return await self._exit(request, exit_id)

    @post("/exits/{exit_id:int}/items/{item_id:int}", status_code=200)
    async def hand_over(self, request: Request[Actor, Any, Any], exit_id: Id, item_id: Id,
                        data: Form) -> Any:
        try:
            provider = data.get("provider", "")
            await service.hand_over(request.user, item_id, form_int(data, "version"),
                                    whole_number(provider))
        except StaleWrite:
            return await self._exit(request, exit_id, 409,
                                    error="该服务对象刚被其他人办理过，请核对后重试")
        except DomainError as exc:
            return await self._exit(request, exit_id, exc.status_code, error=exc.message,
                                    errors={f"item-{item_id}": "；".join(exc.fields.values())
                                            or exc.message})
        flash(request, "已交接，新的护理计划自退出日起生效，家属将收到新的护理计划告知书",
              category="success")
        return Redirect(f"/sanctions/exits/{exit_id}#item-{item_id}")

    @post("/exits/{exit_id:int}/complete", status_code=200)
    async def complete(self, request: Request[Actor, Any, Any], exit_id: Id,
                       data: Form) -> Any:
        try:
            await service.complete_exit(request.user, exit_id, form_int(data, "version"))
        except StaleWrite:
            return await self._exit(request, exit_id, 409,
                                    error="该退出刚被其他人办理过，请核对后重试")
        except DomainError as exc:
            return await self._exit(request, exit_id, exc.status_code, error=exc.message)
        flash(request, "机构退出已完成，其协议自退出日起终止", category="success")
        return Redirect(f"/sanctions/exits/{exit_id}")


class PublicSanctionPages(Controller):
    """处理公告: no login; organisations only, no personal data."""

    path = "/public"

    @get("/sanctions", exclude_from_auth=True)
    async def index(self, request: Request, after: AfterId = 0) -> Template:
        q = request.query_params.get("q", "")
        rows, next_after = _paged(await service.public_sanctions(q=q, after=after,
                                                                 limit=PAGE_SIZE + 1))
        return page(request, "sanctions/public.html", rows=rows, q=q, next_after=next_after,
                    **_labels())
