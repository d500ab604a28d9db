"""Reading return visits: the clerk's list (filters: month, provider, result; search), its
CSV, one call, and each provider's results of a month for the evaluation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.columns.combination import Where, WhereRaw
from piccolo.query.functions.aggregate import Count

from ltc.errors import InvalidInput
from ltc.identity import Actor, Role, in_region, require_role
from ltc.people import interface as people
from ltc.phones import mask_phone
from ltc.returnvisits.rules import CallState, Outcome
from ltc.returnvisits.tables import ReturnVisit, ReturnVisitDraw

READ_ROLES = frozenset({Role.clerk, Role.admin})
PENDING = "pending"
RESULT_CHOICES = ((PENDING, "待回访"), *((o.value, o.label) for o in Outcome))

_V = ReturnVisit.visit
COLUMNS = (
    *ReturnVisit.all_columns(),
    ReturnVisit.person.name.as_alias("person_name"),
    ReturnVisit.person.phone.as_alias("phone"),
    ReturnVisit.provider.name.as_alias("provider_name"),
    _V.staff.display_name.as_alias("staff_name"), _V.visit_on.as_alias("visit_on"),
    _V.started_at.as_alias("started_at"), _V.ended_at.as_alias("ended_at"),
    _V.items.as_alias("items"), _V.review.as_alias("visit_review"),
    ReturnVisit.called_by.display_name.as_alias("called_by_name"),
)
CSV_HEADER = ["服务月份", "服务日期", "服务对象", "联系电话", "护理机构", "服务人员", "状态",
              "回访结果", "满意度", "备注", "回访人", "记录时间"]


@dataclass(frozen=True)
class Filters:
    month: date | None = None
    provider: int | None = None
    result: str = ""  # "" | pending | an Outcome
    search: str = ""  # the person, as the people search finds them


def filters_from(month: date | None, provider: int | None, result: str,
                 search: str = "") -> Filters:
    if result and result not in dict(RESULT_CHOICES):
        raise InvalidInput("invalid_filter", "筛选条件有误",
                           {"result": "请选择：待回访、确认属实、否认服务或无法联系"})
    return Filters(month, provider, result, " ".join(search.split()))


def _where(actor: Actor, filters: Filters) -> Where | WhereRaw:
    where = in_region(actor, ReturnVisit.region_path)
    if filters.month:
        where &= ReturnVisit.month == filters.month
    if filters.provider:
        where &= ReturnVisit.provider == filters.provider
    if filters.result == PENDING:
        where &= ReturnVisit.state == str(CallState.PENDING)
    elif filters.result:
        where &= ReturnVisit.outcome == filters.result
    if (found := people.person_search(ReturnVisit.person, filters.search)) is not None:
        where &= found
    return where


def _ordered(query: Any) -> Any:
    """Waiting calls first, newest month first, then by id: a stable order for paging."""
    return query.order_by(ReturnVisit.state).order_by(
        ReturnVisit.month, ascending=False).order_by(ReturnVisit.id)


async def list_calls(actor: Actor, filters: Filters, *, page: int = 1, page_size: int = 50
                     ) -> tuple[list[dict[str, Any]], int]:
    """One page of the clerk's list (phones masked) and how many match."""
    require_role(actor, READ_ROLES, "查看回访抽样")
    where = _where(actor, filters)
    matched = await ReturnVisit.count().where(where)
    rows = await _ordered(ReturnVisit.select(*COLUMNS).where(where)).limit(page_size).offset(
        (page - 1) * page_size)
    return [_masked(r) for r in rows], matched


async def all_calls(actor: Actor, filters: Filters) -> list[dict[str, Any]]:
    require_role(actor, READ_ROLES, "导出回访抽样")
    return [_masked(r) for r in await _ordered(
        ReturnVisit.select(*COLUMNS).where(_where(actor, filters)))]


def _masked(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "phone": mask_phone(row["phone"])}


def csv_rows(rows: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    for r in rows:
        yield [f"{r['month']:%Y-%m}", r["visit_on"].isoformat(), r["person_name"], r["phone"],
               r["provider_name"], r["staff_name"], CallState(r["state"]).label,
               Outcome(r["outcome"]).label if r["outcome"] else "",
               r["satisfaction"] or "", r["note"], r["called_by_name"] or "",
               r["recorded_at"].isoformat() if r["recorded_at"] else ""]


async def provider_choices(actor: Actor) -> list[tuple[int, str]]:
    rows = await ReturnVisit.select(
        ReturnVisit.provider, ReturnVisit.provider.name.as_alias("name")).where(
        in_region(actor, ReturnVisit.region_path)).distinct()
    return sorted(((r["provider"], r["name"]) for r in rows), key=lambda item: item[1])


async def draws(actor: Actor) -> list[dict[str, Any]]:
    return await ReturnVisitDraw.select().where(
        in_region(actor, ReturnVisitDraw.region_path)).order_by(
        ReturnVisitDraw.month, ascending=False).limit(24)


async def pending_count(actor: Actor) -> int:
    return await ReturnVisit.count().where(
        in_region(actor, ReturnVisit.region_path)
        & (ReturnVisit.state == str(CallState.PENDING)))


async def pending_calls(actor: Actor, limit: int) -> list[dict[str, Any]]:
    return await ReturnVisit.select(*COLUMNS).where(
        in_region(actor, ReturnVisit.region_path)
        & (ReturnVisit.state == str(CallState.PENDING))).order_by(ReturnVisit.month).order_by(
        ReturnVisit.id).limit(limit)


async def call_row(call_id: int) -> dict[str, Any] | None:
    return await ReturnVisit.select(*COLUMNS).where(ReturnVisit.id == call_id).first()


async def satisfaction_counts(actor: Actor, month: date) -> list[tuple[int, int, int]]:
    """(provider, score, count) of the satisfaction families gave on the calls about the
    visits of `month`."""
    return [(row["provider"], row["satisfaction"], row["count"]) for row in
            await ReturnVisit.select(ReturnVisit.provider, ReturnVisit.satisfaction,
                                     Count()).where(
                in_region(actor, ReturnVisit.region_path) & (ReturnVisit.month == month)
                & ReturnVisit.satisfaction.is_not_null()).group_by(
                ReturnVisit.provider, ReturnVisit.satisfaction)]


async def outcomes_by_provider(actor: Actor, month: date) -> dict[int, dict[str, int]]:
    """provider → {outcome or "": count} of the visits of `month` drawn for a call."""
    found: dict[int, dict[str, int]] = {}
    for row in await ReturnVisit.select(ReturnVisit.provider, ReturnVisit.outcome,
                                        Count()).where(
            in_region(actor, ReturnVisit.region_path) & (ReturnVisit.month == month)).group_by(
            ReturnVisit.provider, ReturnVisit.outcome):
        found.setdefault(row["provider"], {})[row["outcome"]] = row["count"]
    return found
