"""Reading 稽核 findings: the report (filters: month, rule, state, provider; search by staff
member or provider; paging; CSV) and its tallies per provider and per staff member."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.columns.combination import Where, WhereRaw

from ltc import db
from ltc.errors import InvalidInput
from ltc.identity import Actor, in_region, require_role
from ltc.inspections.rules import RULE_LABELS, STATE_LABELS, Rule, State
from ltc.inspections.service import READ_ROLES
from ltc.inspections.tables import InspectionFinding
from ltc.providers.rules import parse_month

RULE_CHOICES = tuple((str(r), label) for r, label in RULE_LABELS.items())
STATE_CHOICES = tuple((str(s), label) for s, label in STATE_LABELS.items())
F = InspectionFinding
COLUMNS = (*F.all_columns(), F.provider.name.as_alias("provider_name"),
           F.staff.display_name.as_alias("staff_name"),
           F.decided_by.display_name.as_alias("decided_by_name"))
CSV_HEADER = ["月份", "稽核规则", "护理机构", "服务人员", "涉及服务记录数", "情况", "状态",
              "核实理由", "核实人", "核实时间", "首次发现"]


@dataclass(frozen=True)
class Filters:
    month: date | None = None
    rule: str = ""
    state: str = ""
    provider: int | None = None
    search: str = ""  # the staff member's or the provider's name, any part


def filters_from(month_text: str, rule: str, state: str, provider: int | None,
                 search: str = "") -> Filters:
    problems = {}
    month = parse_month(month_text) if month_text else None
    if month_text and month is None:
        problems["month"] = "请按“年-月”选择月份，如 2026-12"
    if rule and rule not in dict(RULE_CHOICES):
        problems["rule"] = "请选择列表中的稽核规则"
    if state and state not in dict(STATE_CHOICES):
        problems["state"] = "请选择：待核实、已确认违规或已排除"
    if problems:
        raise InvalidInput("invalid_filter", "筛选条件有误", problems)
    return Filters(month, rule, state, provider, " ".join(search.split()))


def _where(actor: Actor, filters: Filters) -> Where | WhereRaw:
    where = in_region(actor, F.region_path)
    if filters.month:
        where &= F.month == filters.month
    if filters.rule:
        where &= F.rule == filters.rule
    if filters.state:
        where &= F.state == filters.state
    if filters.provider:
        where &= F.provider == filters.provider
    if text := filters.search:
        where &= db.contains(F.staff.display_name, text) | db.contains(F.provider.name, text)
    return where


def _ordered(query: Any) -> Any:
    # Open ones first, newest month first, then as found: a stable order for paging.
    return query.order_by(F.state, F.month, ascending=False).order_by(F.id)


async def list_findings(actor: Actor, filters: Filters, *, page: int = 1, page_size: int = 50
                        ) -> tuple[list[dict[str, Any]], int]:
    require_role(actor, READ_ROLES, "查看稽核报告")
    where = _where(actor, filters)
    matched = await F.count().where(where)
    rows = await _ordered(F.select(*COLUMNS).where(where)).limit(page_size).offset(
        (page - 1) * page_size)
    return rows, matched


async def all_findings(actor: Actor, filters: Filters) -> list[dict[str, Any]]:
    require_role(actor, READ_ROLES, "导出稽核报告")
    return await _ordered(F.select(*COLUMNS).where(_where(actor, filters)))


def csv_rows(rows: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    for r in rows:
        yield [f"{r['month']:%Y-%m}", Rule(r["rule"]).label, r["provider_name"],
               r["staff_name"] or "（多名）", r["visit_count"], r["details"],
               State(r["state"]).label, r["reason"], r["decided_by_name"] or "",
               r["decided_at"].isoformat() if r["decided_at"] else "", r["found_on"].isoformat()]


@dataclass
class Tally:
    """One provider's or staff member's findings."""

    name: str
    open: int = 0
    confirmed: int = 0
    cleared: int = 0
    visits: int = 0

    @property
    def total(self) -> int:
        return self.open + self.confirmed + self.cleared

    def add(self, row: dict[str, Any]) -> None:
        setattr(self, row["state"], getattr(self, row["state"]) + 1)
        self.visits += row["visit_count"]


async def tallies(actor: Actor, filters: Filters) -> tuple[list[Tally], list[Tally]]:
    """Per provider and per staff member, most findings first (the report's two tables)."""
    rows = await F.select(F.provider, F.provider.name.as_alias("provider_name"), F.staff,
                          F.staff.display_name.as_alias("staff_name"), F.state,
                          F.visit_count).where(_where(actor, filters))
    providers: dict[int, Tally] = {}
    staff: dict[int, Tally] = {}
    for r in rows:
        providers.setdefault(r["provider"], Tally(r["provider_name"])).add(r)
        if r["staff"] is not None:
            staff.setdefault(r["staff"], Tally(f"{r['staff_name']}（{r['provider_name']}）")
                             ).add(r)

    def ordered(found: dict[int, Tally]) -> list[Tally]:
        return sorted(found.values(), key=lambda t: (-t.total, t.name))

    return ordered(providers), ordered(staff)


async def provider_choices(actor: Actor) -> list[tuple[int, str]]:
    rows = await F.select(F.provider, F.provider.name.as_alias("name")).where(
        in_region(actor, F.region_path)).distinct()
    return sorted(((r["provider"], r["name"]) for r in rows), key=lambda item: item[1])


async def open_count(actor: Actor) -> int:
    return await F.count().where(in_region(actor, F.region_path)
                                 & (F.state == str(State.open)))


async def open_findings(actor: Actor, limit: int) -> list[dict[str, Any]]:
    return await _ordered(F.select(*COLUMNS).where(
        in_region(actor, F.region_path) & (F.state == str(State.open)))).limit(limit)
