"""Reading spot checks: the bureau's list (filters: month, organisation, finding), the results
per organisation and per assessor, the month's draws, and an expert's queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.columns.combination import Where, WhereRaw

from ltc import clock
from ltc.errors import InvalidInput
from ltc.identity import Actor, Role, in_region, require_role
from ltc.people import interface as people
from ltc.spotchecks import rules
from ltc.spotchecks.rules import Finding, SpotCheckState
from ltc.spotchecks.tables import SpotCheck, SpotCheckDraw
from ltc.staff import interface as staff

READ_ROLES = frozenset({Role.reviewer, Role.admin})
# The finding filter: not yet recorded, or one of the findings.
PENDING = "pending"
FINDING_CHOICES = ((PENDING, "待抽查"), *((f.value, f.label) for f in Finding))

_A = SpotCheck.assessment
COLUMNS = (
    *SpotCheck.all_columns(),
    _A.application.as_alias("application_id"),
    _A.application.number.as_alias("application_number"),
    _A.application.person.name.as_alias("person_name"), _A.grade.as_alias("grade"),
    _A.concluded_at.as_alias("concluded_at"),
    _A.assessor_1.as_alias("assessor_1"), _A.assessor_2.as_alias("assessor_2"),
    _A.assessor_1.display_name.as_alias("assessor_1_name"),
    _A.assessor_2.display_name.as_alias("assessor_2_name"),
    _A.reviewed_by.as_alias("reviewed_by"),
    SpotCheck.organisation_1.name.as_alias("organisation_1_name"),
    SpotCheck.organisation_2.name.as_alias("organisation_2_name"),
    SpotCheck.expert.display_name.as_alias("expert_name"),
    SpotCheck.application.number.as_alias("new_application_number"),
)
CSV_HEADER = ["抽查月份", "申请编号", "姓名", "失能等级", "结论确认时间", "评估员", "评估机构",
              "状态", "抽查结论", "抽查专家", "记录时间", "说明", "重新评估申请"]


@dataclass(frozen=True)
class Filters:
    month: date | None = None
    organisation: int | None = None
    finding: str = ""  # "" | pending | conform | nonconform
    # the search box: the application number, or the person as the people search finds them
    search: str = ""


def _finding(value: str) -> str:
    if value and value not in dict(FINDING_CHOICES):
        raise InvalidInput("invalid_filter", "筛选条件有误",
                           {"finding": "请选择：待抽查、符合或不符合"})
    return value


def filters_from(month: date | None, organisation: int | None, finding: str,
                 search: str = "") -> Filters:
    return Filters(month, organisation, _finding(finding or ""), " ".join(search.split()))


def _where(actor: Actor, filters: Filters) -> Where | WhereRaw:
    where = in_region(actor, SpotCheck.region_path)
    if filters.month:
        where &= SpotCheck.month == filters.month
    if filters.organisation:
        where &= ((SpotCheck.organisation_1 == filters.organisation)
                  | (SpotCheck.organisation_2 == filters.organisation))
    if filters.finding == PENDING:
        where &= SpotCheck.state == str(SpotCheckState.PENDING)
    elif filters.finding:
        where &= SpotCheck.finding == filters.finding
    if text := filters.search:
        condition = _A.application.number.like(text.upper() + "%")
        if (found := people.person_search(_A.application.person, text)) is not None:
            condition = condition | found
        where &= condition
    return where


async def list_checks(actor: Actor, filters: Filters, *, page: int = 1, page_size: int = 50
                      ) -> tuple[list[dict[str, Any]], int]:
    """One page of the bureau's list, newest month first, and how many match."""
    require_role(actor, READ_ROLES, "查看评估抽查")
    where = _where(actor, filters)
    matched = await SpotCheck.count().where(where)
    rows = await SpotCheck.select(*COLUMNS).where(where).order_by(
        SpotCheck.month, ascending=False).order_by(SpotCheck.id).limit(page_size).offset(
        (page - 1) * page_size)
    return rows, matched


async def all_checks(actor: Actor, filters: Filters) -> list[dict[str, Any]]:
    require_role(actor, READ_ROLES, "导出评估抽查")
    return await SpotCheck.select(*COLUMNS).where(_where(actor, filters)).order_by(
        SpotCheck.month, ascending=False).order_by(SpotCheck.id)


def csv_rows(rows: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    for r in rows:
        yield [f"{r['month']:%Y-%m}", r["application_number"], r["person_name"], r["grade"],
               r["concluded_at"].isoformat() if r["concluded_at"] else "",
               f"{r['assessor_1_name']}、{r['assessor_2_name']}",
               "、".join(dict.fromkeys((r["organisation_1_name"], r["organisation_2_name"]))),
               SpotCheckState(r["state"]).label,
               Finding(r["finding"]).label if r["finding"] else "", r["expert_name"] or "",
               r["recorded_at"].isoformat() if r["recorded_at"] else "", r["notes"],
               r["new_application_number"] or ""]


@dataclass
class Tally:
    """One organisation's or assessor's spot checks."""

    name: str
    sampled: int = 0
    conform: int = 0
    nonconform: int = 0

    @property
    def pending(self) -> int:
        return self.sampled - self.conform - self.nonconform

    @property
    def rate(self) -> str:
        return rules.conformity_rate(self.conform, self.conform + self.nonconform)

    def add(self, finding: str) -> None:
        self.sampled += 1
        self.conform += finding == Finding.conform
        self.nonconform += finding == Finding.nonconform


def summary(rows: Iterable[dict[str, Any]]) -> tuple[list[Tally], list[Tally]]:
    """Results per organisation and per assessor: an assessment counts once for each
    distinct organisation and for each of its two assessors. Most checked first."""
    organisations: dict[int, Tally] = {}
    assessors: dict[int, Tally] = {}
    for r in rows:
        for key, name in dict.fromkeys(((r["organisation_1"], r["organisation_1_name"]),
                                        (r["organisation_2"], r["organisation_2_name"]))):
            organisations.setdefault(key, Tally(name)).add(r["finding"])
        for key, name in dict.fromkeys(((r["assessor_1"], r["assessor_1_name"]),
                                        (r["assessor_2"], r["assessor_2_name"]))):
            assessors.setdefault(key, Tally(name)).add(r["finding"])

    def ordered(tallies: dict[int, Tally]) -> list[Tally]:
        return sorted(tallies.values(), key=lambda t: (-t.sampled, t.name))

    return ordered(organisations), ordered(assessors)


async def organisation_choices(actor: Actor) -> list[tuple[int, str]]:
    """The organisations that have spot checks in the actor's region, by name."""
    rows = await SpotCheck.select(
        SpotCheck.organisation_1, SpotCheck.organisation_1.name.as_alias("n1"),
        SpotCheck.organisation_2, SpotCheck.organisation_2.name.as_alias("n2"),
    ).where(in_region(actor, SpotCheck.region_path))
    found = {r["organisation_1"]: r["n1"] for r in rows} | {
        r["organisation_2"]: r["n2"] for r in rows}
    return sorted(found.items(), key=lambda item: item[1])


async def draws(actor: Actor) -> list[dict[str, Any]]:
    """The region's monthly draws, newest first (what was drawn from how many)."""
    return await SpotCheckDraw.select(
        SpotCheckDraw.id, SpotCheckDraw.key, SpotCheckDraw.region_path, SpotCheckDraw.month,
        SpotCheckDraw.rate_basis_points, SpotCheckDraw.seed, SpotCheckDraw.algorithm,
        SpotCheckDraw.record, SpotCheckDraw.drawn_at,
    ).where(in_region(actor, SpotCheckDraw.region_path)).order_by(
        SpotCheckDraw.month, ascending=False).limit(24)


async def expert_queue(actor: Actor) -> list[dict[str, Any]]:
    """The spot checks waiting for an expert that this assessor may take — in their region,
    of assessments they took no part in (ltc.spotchecks.service decides again on record) —
    then those they recorded, newest first. Only a valid 评估专家 is offered waiting checks."""
    require_role(actor, frozenset({Role.assessor}), "查看待抽查的评估")
    recorded = SpotCheck.expert == actor.id
    offered = (_waiting(actor) | recorded if await _is_expert(actor) else recorded)
    return await SpotCheck.select(*COLUMNS).where(
        in_region(actor, SpotCheck.region_path) & offered
    ).order_by(SpotCheck.state).order_by(SpotCheck.month, ascending=False).order_by(
        SpotCheck.id).limit(200)


def _waiting(actor: Actor):
    me = actor.id
    return ((SpotCheck.state == str(SpotCheckState.PENDING))
            & (_A.assessor_1 != me) & (_A.assessor_2 != me)
            & (_A.reviewed_by.is_null() | (_A.reviewed_by != me)))


async def _is_expert(actor: Actor) -> bool:
    return actor.id is not None and await staff.is_valid_expert(actor.id, clock.today())


async def waiting_assessments(actor: Actor) -> list[int]:
    """The assessments of the waiting checks expert_queue offers (all of them, no cap)."""
    require_role(actor, frozenset({Role.assessor}), "查看待抽查的评估")
    if not await _is_expert(actor):
        return []
    return [r["assessment"] for r in await SpotCheck.select(SpotCheck.assessment).where(
        in_region(actor, SpotCheck.region_path) & _waiting(actor))]


async def check_row(check_id: int) -> dict[str, Any] | None:
    return await SpotCheck.select(*COLUMNS).where(SpotCheck.id == check_id).first()
