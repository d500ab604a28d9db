"""Clerk pages for institutional stays (入住, 出院, 床日统计) and return-visit surveys (回访);
the bureau's provider evaluation (机构考核) with a sortable table, a bar chart and a CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Stream, Template

from ltc import clock
from ltc.audit import service as audit
from ltc.entitlements import service as entitlements
from ltc.errors import InvalidInput
from ltc.identity import Actor, Role
from ltc.people.rules import mask_resident_id
from ltc.providers import rules, service
from ltc.web.actions import perform
from ltc.web.exports import Page, csv_download, keyset_page, paged_csv
from ltc.web.formatting import iso_date
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, whole_number

IdQuery = AfterId  # an optional id in a query string; 0 is none

Form = URLEncodedBody[dict[str, str]]


def _form_id(data: dict[str, str], field: str) -> int | None:
    raw = (data.get(field) or "").strip()
    return whole_number(raw) or None


def _form_date(data: dict[str, str], field: str) -> date | None:
    try:
        return date.fromisoformat((data.get(field) or "").strip())
    except ValueError:
        return None


def _required_date(data: dict[str, str], field: str, problems: dict[str, str]) -> date:
    day = _form_date(data, field)
    if day is None:
        problems[field] = "请按 2026-10-01 的格式填写日期"
    return day or clock.today()


def _month(text: str, default: date) -> tuple[date, str | None]:
    """The month asked for, or `default` and a message when it cannot be read."""
    if not text.strip():
        return default, None
    month = rules.parse_month(text)
    if month is None:
        return default, (f"月份“{text}”无法识别，请按 2026-11 的格式选择；"
                         f"下面显示的是{clock.month_label(default)}")
    return month, None


def _survey_month(text: str) -> tuple[date | None, str | None]:
    """The surveys' month filter: none when left blank."""
    return _month(text, clock.today().replace(day=1)) if text.strip() else (None, None)


STAY_EXPORT_HEADER = ["姓名", "身份证号（脱敏）", "村（居）", "机构", "入住日期", "出院日期"]
SURVEY_EXPORT_HEADER = ["回访日期", "姓名", "身份证号（脱敏）", "护理机构", "评分", "评价",
                        "意见", "登记人"]


# --- institutional stays -----------------------------------------------------------------

class StayPages(Controller):
    path = "/stays"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], institution: IdQuery = 0,
                    status: FromQuery[str] = "open", q: FromQuery[str] = "",
                    after: AfterId = 0) -> Template:
        actor = request.user
        rows = await service.list_stays(actor, institution=institution or None,
                                        open_only=status != "all", search=q, after_id=after)
        return page(request, "providers/stays.html", rows=rows, status=status, q=q,
                    institution=institution,
                    query={"status": status, "institution": institution, "q": q},
                    institutions=await service.institutions(actor, clock.today()),
                    next_after=keyset_page(rows, service.PAGE_SIZE)[1])

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], institution: IdQuery = 0,
                     status: FromQuery[str] = "open", q: FromQuery[str] = "") -> Stream:
        """The stays with their filters as CSV for Excel, page by page; IDs masked, audited."""
        actor = request.user

        async def fetch(after: int | None) -> Page:
            return keyset_page(await service.list_stays(
                actor, institution=institution or None, open_only=status != "all",
                search=q, after_id=after or 0), service.PAGE_SIZE)

        def line(s: dict[str, Any]) -> list[Any]:
            return [s["person.name"], mask_resident_id(s["person.resident_id"]),
                    s["person.village.name"], s["institution.name"], iso_date(s["admitted_on"]),
                    iso_date(s["discharged_on"]) or "在住"]

        return await paged_csv("stays.csv", STAY_EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "stay.exported", "stay_list",
                                   {"status": status, "institution": institution, "q": q}))

    async def _new(self, request: Request[Actor, Any, Any], q: str, entitlement: int,
                   status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        candidates = []
        if q.strip():
            candidates = await entitlements.list_entitlements(actor, state="ACTIVE", search=q)
        chosen = None
        if entitlement:
            chosen = await entitlements.get_entitlement(actor, entitlement)
        return page(request, "providers/stay_new.html", status_code=status_code, q=q,
                    candidates=candidates, chosen=chosen, today=clock.today(),
                    institutions=await service.institutions(actor, clock.today()),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/new")
    async def new(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                  entitlement: IdQuery = 0) -> Template:
        return await self._new(request, q, entitlement)

    @post("/", status_code=200)
    async def admit(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        admitted: dict[str, Any] = {}

        async def transition() -> None:
            problems: dict[str, str] = {}
            entitlement = _form_id(data, "entitlement")
            if entitlement is None:
                problems["entitlement"] = "请先查找并选择入住人员的待遇资格"
            admitted_on = _required_date(data, "admitted_on", problems)
            if problems:
                raise InvalidInput("invalid_admission", "入住登记有误，请按提示修改", problems)
            admitted.update(await service.admit(request.user, entitlement,
                                                _form_id(data, "institution"), admitted_on))

        async def render(**context: Any) -> Template:
            return await self._new(request, data.get("q", ""),
                                   _form_id(data, "entitlement") or 0, form=data, **context)

        response = await perform(request, transition, render=render, done="已登记入住",
                                 then="/stays", stale="")
        return Redirect(f"/stays/{admitted['id']}") if admitted else response

    async def _show(self, request: Request[Actor, Any, Any], stay_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        stay = await service.get_stay(request.user, stay_id)
        return page(request, "providers/stay.html", status_code=status_code, stay=stay,
                    today=clock.today(),
                    timeline=await audit.timeline("institutional_stay", stay_id),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/{stay_id:int}")
    async def show(self, request: Request[Actor, Any, Any], stay_id: Id) -> Template:
        return await self._show(request, stay_id)

    @post("/{stay_id:int}/discharge", status_code=200)
    async def discharge(self, request: Request[Actor, Any, Any], stay_id: Id,
                        data: Form) -> Any:
        async def transition() -> None:
            problems: dict[str, str] = {}
            discharged_on = _required_date(data, "discharged_on", problems)
            if problems:
                raise InvalidInput("invalid_discharge", "出院登记有误，请按提示修改", problems)
            await service.discharge(request.user, stay_id, discharged_on)

        async def render(**context: Any) -> Template:
            return await self._show(request, stay_id, form=data, **context)

        return await perform(request, transition, render=render, done="已办理出院",
                             then=f"/stays/{stay_id}",
                             stale="此住养刚被其他经办员办理了出院，请核对")

    @get("/bed-days")
    async def bed_days(self, request: Request[Actor, Any, Any], month: FromQuery[str] = "",
                       institution: IdQuery = 0) -> Template:
        actor = request.user
        chosen, error = _month(month, clock.today().replace(day=1))
        report = await service.bed_days_by_month(actor, institution or None, chosen)
        return page(request, "providers/bed_days.html", report=report, error=error,
                    month=f"{chosen:%Y-%m}", month_label=clock.month_label(chosen),
                    institution=institution,
                    institutions=await service.institutions(actor, clock.today()))


# --- surveys ---------------------------------------------------------------------------------

class SurveyPages(Controller):
    path = "/surveys"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], provider: IdQuery = 0,
                    month: FromQuery[str] = "", q: FromQuery[str] = "",
                    after: AfterId = 0) -> Template:
        actor = request.user
        chosen, error = _survey_month(month)
        rows = await service.list_surveys(actor, provider=provider or None, month=chosen,
                                          search=q, after_id=after)
        return page(request, "providers/surveys.html", rows=rows, provider=provider,
                    month=month, q=q, query={"provider": provider, "month": month, "q": q},
                    providers=await service.providers(actor), score_labels=rules.SCORE_LABELS,
                    error=error, next_after=keyset_page(rows, service.PAGE_SIZE)[1])

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], provider: IdQuery = 0,
                     month: FromQuery[str] = "", q: FromQuery[str] = "") -> Stream:
        """The surveys with their filters as CSV for Excel, page by page; IDs masked,
        audited."""
        actor = request.user
        chosen, _ = _survey_month(month)

        async def fetch(after: int | None) -> Page:
            return keyset_page(await service.list_surveys(
                actor, provider=provider or None, month=chosen, search=q,
                after_id=after or 0), service.PAGE_SIZE)

        def line(s: dict[str, Any]) -> list[Any]:
            return [iso_date(s["surveyed_on"]), s["person.name"],
                    mask_resident_id(s["person.resident_id"]), s["provider.name"], s["score"],
                    rules.SCORE_LABELS[s["score"]], s["comment"],
                    s["recorded_by.display_name"]]

        return await paged_csv("surveys.csv", SURVEY_EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "survey.exported", "survey_list",
                                   {"provider": provider, "month": month, "q": q}))

    async def _new(self, request: Request[Actor, Any, Any], q: str, person: int,
                   provider: int, status_code: int = 200, **context: Any) -> Template:
        actor = request.user
        subject = await service.survey_subject(actor, person, provider) if (
            person and provider) else None
        return page(request, "providers/survey_new.html", status_code=status_code, q=q,
                    candidates=await service.survey_candidates(actor, q), subject=subject,
                    today=clock.today(), scores=sorted(rules.SCORE_LABELS.items(),
                                                       reverse=True),
                    comment_max=rules.COMMENT_MAX,
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/new")
    async def new(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                  person: IdQuery = 0, provider: IdQuery = 0) -> Template:
        return await self._new(request, q, person, provider)

    @post("/", status_code=200)
    async def record(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        async def transition() -> None:
            score = (data.get("score") or "").strip()
            await service.record_survey(
                request.user, _form_id(data, "provider"), _form_id(data, "person"),
                _form_date(data, "surveyed_on"), whole_number(score) or 0,
                data.get("comment", ""))

        async def render(**context: Any) -> Template:
            return await self._new(request, "", _form_id(data, "person") or 0,
                                   _form_id(data, "provider") or 0, form=data, **context)

        return await perform(request, transition, render=render, done="回访已登记",
                             then="/surveys", stale="")


# --- the evaluation --------------------------------------------------------------------------

CHART_WIDTH = 480  # px of a 100 % bar


class EvaluationPages(Controller):
    path = "/evaluation"
    guards = [role_guard(Role.reviewer, Role.clerk)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], month: FromQuery[str] = "",
                    sort: FromQuery[str] = rules.DEFAULT_SORT,
                    order: FromQuery[str] = "desc") -> Template:
        chosen, error = _month(month, clock.previous_month(clock.today()))
        descending = order != "asc"
        sort = sort if sort in rules.SORT_COLUMNS else rules.DEFAULT_SORT
        rows = rules.sort_rows(await service.evaluation(request.user, chosen), sort, descending)
        key = f"{chosen:%Y-%m}"

        def header_link(column: str) -> str:
            # The current column flips its order; another starts descending (names ascending).
            if column == sort:
                then = "asc" if descending else "desc"
            else:
                then = "asc" if column == "name" else "desc"
            return "/evaluation?" + urlencode({"month": key, "sort": column, "order": then})

        return page(request, "providers/evaluation.html", rows=rows, error=error, month=key,
                    month_label=clock.month_label(chosen), sort=sort, descending=descending,
                    columns=rules.SORT_COLUMNS, header_link=header_link,
                    chart_width=CHART_WIDTH, satisfied_from=rules.SATISFIED_FROM)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any],
                     month: FromQuery[str] = "") -> Stream:
        """The month's evaluation for Excel (UTF-8 with BOM)."""
        chosen, _ = _month(month, clock.previous_month(clock.today()))
        rows = await service.evaluation(request.user, chosen)

        async def lines() -> AsyncIterator[list[Any]]:
            for r in rows:
                yield [f"{chosen:%Y-%m}", r["name"], r["due"], r["accepted"], r["credited"],
                       r["completion_text"], r["logged"], r["flagged"], r["flag_rate_text"],
                       r["surveys"], r["satisfied"], r["satisfaction_text"],
                       r["mean_score_text"], r["returns_sampled"], r["returns_reached"],
                       r["returns_confirmed_rate"], r["returns_denied"]]

        return csv_download(f"evaluation-{chosen:%Y-%m}.csv", EXPORT_HEADER, lines())


EXPORT_HEADER = ["月份", "机构", "应上门次数", "已接受上门", "计入完成次数", "上门服务率",
                 "上门记录", "被标记记录", "标记率", "满意度评价次数", "满意（4分及以上）",
                 "满意率", "平均评分", "回访抽样", "回访联系上", "回访确认率", "回访否认"]
