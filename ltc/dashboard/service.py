"""The dashboard's figures: made per pooling region by `refresh` (a job: nightly, after a batch
is approved, or on demand) into DashboardFigure, and read from there by the pages and the
monthly report, so a page view reads a few hundred summary rows whatever the city's size.

Figures are set-based aggregates over other contexts' tables (GROUP BY queries, no row per
person in Python except one per application of the last twelve months, for the working-day
arithmetic); the pages never read those tables.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from piccolo.query.functions.aggregate import Count, Min, Sum

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit import service as audit
from ltc.dashboard import rules
from ltc.dashboard.tables import Budget, DashboardFigure, DashboardRefresh
from ltc.entitlements.tables import Entitlement
from ltc.errors import Conflict, Forbidden, InvalidInput
from ltc.identity import Actor, ActorKind, Role, require_role
from ltc.notices.tables import NoticeEntry
from ltc.payouts.rules import BatchState
from ltc.payouts.tables import PayoutLine
from ltc.providers import service as providers
from ltc.regions import interface as regions

MONTHS = 12  # the window the figures cover, ending with the current month
VIEWERS = frozenset({Role.reviewer, Role.clerk, Role.admin})
PAID_STATES = (BatchState.APPROVED, BatchState.EXPORTED, BatchState.RECONCILED)
BENEFITS = {"family_subsidy": "居家护理补贴", "home_visit": "上门护理", "institutional": "机构护理"}

# What n, value, value2, key and detail mean for each figure (month = its first day).
FIGURES = {
    "applications": "n = applications filed in the month",
    "cycle": "key = stage (rules.STAGES); n = cases; value = median, value2 = p90 working days;"
             " by the month the application was filed",
    "grade": "key = grade; n = entitlements granted and not ended on the month's last day"
             " (today for the current month)",
    "benefit": "key = benefit; n = people paid for it in the month's approved batch",
    "spend": "key = benefit; value = net fen of the month's approved batch",
    "provider": "key = organisation id; label = its name; detail = JSON of its evaluation;"
                " month = the previous month (the evaluation's)",
    "assessor": "key = user id; label = name; detail = JSON {grade: assessments}; all twelve"
                " months, stored under the current month",
    "organisation": "like assessor, per assessment organisation",
}
PROVIDER_FIELDS = ("name", "due", "completion", "completion_text", "satisfaction",
                   "satisfaction_text", "flagged", "flag_rate_text", "returns_sampled",
                   "returns_confirmed_rate", "returns_denied")


def _town(region_path: str) -> str:
    parts = region_path.split("/")
    return parts[1] if len(parts) > 1 else ""


def _local_day(value: datetime | date | str | None) -> date | None:
    """A Beijing date from a column value; joined and aggregated columns come back from
    SQLite as ISO text, not as the column's type."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(clock.CHINA).date()
    return value


def _in_pooling(column: Any, code: str) -> Any:
    return (column == code) | column.like(code + "/%")


def window(today: date) -> list[date]:
    """The first days of the MONTHS months ending with today's, oldest first."""
    current = clock.month_first(today)
    return [clock.add_months(current, n - MONTHS + 1) for n in range(MONTHS)]


class _Figures:
    """Rows being made: each town's and (town '') the whole region's."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.rows: list[DashboardFigure] = []

    def add(self, town: str, month: date, figure: str, key: str = "", *, n: int = 0,
            value: int | None = None, value2: int | None = None, label: str = "",
            detail: str = "") -> None:
        self.rows.append(DashboardFigure(
            pooling_code=self.code, town_code=town, month=month, figure=figure, key=key,
            label=label, n=n, value=value, value2=value2, detail=detail))

    def counts(self, month: date, figure: str, counted: dict[tuple[str, str], int],
               sums: dict[tuple[str, str], int] | None = None) -> None:
        """(town, key) counts and optional sums, with the region's totals."""
        totals: dict[str, int] = defaultdict(int)
        total_sums: dict[str, int] = defaultdict(int)
        for (town, key), n in sorted(counted.items()):
            value = sums.get((town, key)) if sums is not None else None
            self.add(town, month, figure, key, n=n, value=value)
            totals[key] += n
            total_sums[key] += value or 0
        for key, n in sorted(totals.items()):
            self.add("", month, figure, key, n=n,
                     value=total_sums[key] if sums is not None else None)


async def _milestones(code: str, since: datetime) -> dict[int, dict[str, Any]]:
    """Each application filed since `since`: its town, month and the days of its milestones."""
    cases: dict[int, dict[str, Any]] = {}
    for row in await Application.select(
            Application.id, Application.region_path, Application.submitted_at,
            Application.accepted_at).where(
            _in_pooling(Application.region_path, code) & (Application.submitted_at >= since)
            & (Application.origin == "applicant")):
        cases[row["id"]] = {"town": _town(row["region_path"]),
                            "submitted": _local_day(row["submitted_at"]),
                            "accepted": _local_day(row["accepted_at"])}

    def earliest(case_id: int, milestone: str, day: date | None) -> None:
        case = cases.get(case_id)
        if case is not None and day is not None and (
                case.get(milestone) is None or day < case[milestone]):
            case[milestone] = day

    filed_since = Assessment.application.submitted_at >= since
    for row in await Assessment.select(
            Assessment.application, Assessment.onsite_ended_at, Assessment.concluded_at).where(
            filed_since & (Assessment.kind == "initial")):
        earliest(row["application"], "assessed", _local_day(row["onsite_ended_at"]))
        earliest(row["application"], "concluded", _local_day(row["concluded_at"]))
    for row in await NoticeEntry.select(
            NoticeEntry.application, NoticeEntry.batch.published_on.as_alias("published")).where(
            (NoticeEntry.application.submitted_at >= since)
            & NoticeEntry.batch.published_on.is_not_null()):
        earliest(row["application"], "noticed", _local_day(row["published"]))
    application = PayoutLine.entitlement.decision.application
    for row in await PayoutLine.select(
            application.as_alias("application"),
            Min(PayoutLine.batch.approved_at, alias="paid")).where(
            (application.submitted_at >= since) & PayoutLine.batch.approved_at.is_not_null()
            ).group_by(application):
        earliest(row["application"], "paid", _local_day(row["paid"]))
    return cases


async def _cycle(figures: _Figures, months: list[date]) -> None:
    since = datetime.combine(months[0], datetime.min.time(), clock.CHINA)
    calendar = clock.working_calendar()
    counted: dict[tuple[str, date], int] = defaultdict(int)
    days: dict[tuple[str, date, str], list[int]] = defaultdict(list)
    for case in (await _milestones(figures.code, since)).values():
        month = clock.month_first(case["submitted"])
        for town in (case["town"], ""):
            counted[(town, month)] += 1
            for stage, n in rules.stage_days(case, calendar).items():
                days[(town, month, stage)].append(n)
    for (town, month), n in sorted(counted.items()):
        figures.add(town, month, "applications", n=n)
    for (town, month, stage), values in sorted(days.items()):
        figures.add(town, month, "cycle", stage, n=len(values),
                    value=rules.percentile(values, 50), value2=rules.percentile(values, 90))


async def _grades(figures: _Figures, months: list[date], today: date) -> None:
    for month in months:
        day = min(clock.month_last(month), today)
        counted: dict[tuple[str, str], int] = defaultdict(int)
        for row in await Entitlement.select(
                Entitlement.region_path, Entitlement.grade, Count()).where(
                _in_pooling(Entitlement.region_path, figures.code)
                & (Entitlement.starts_on <= day) & (Entitlement.expires_on >= day)
                & (Entitlement.ends_on.is_null() | (Entitlement.ends_on >= day))).group_by(
                Entitlement.region_path, Entitlement.grade):
            counted[(_town(row["region_path"]), str(row["grade"]))] += row["count"]
        figures.counts(month, "grade", counted)


async def _spend(figures: _Figures, months: list[date]) -> None:
    people: dict[date, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    fen: dict[date, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for row in await PayoutLine.select(
            PayoutLine.batch.month.as_alias("month"), PayoutLine.region_path,
            PayoutLine.benefit, Count(distinct=[PayoutLine.person]),
            Sum(PayoutLine.net_fen, alias="fen")).where(
            (PayoutLine.batch.region_path == figures.code)
            & PayoutLine.batch.state.is_in([str(s) for s in PAID_STATES])
            & (PayoutLine.batch.month >= months[0])).group_by(
            PayoutLine.batch.month, PayoutLine.region_path, PayoutLine.benefit):
        key, month = (_town(row["region_path"]), row["benefit"]), _local_day(row["month"])
        people[month][key] += row["count"]
        fen[month][key] += int(row["fen"] or 0)
    for month in sorted(people):
        figures.counts(month, "benefit", people[month])
        figures.counts(month, "spend", people[month], fen[month])


async def _providers(figures: _Figures, today: date) -> None:
    month = clock.previous_month(today)
    scoped = Actor(kind=ActorKind.system, id=None, name="数据看板", role=None,
                   region_path=figures.code)
    for row in await providers.evaluation(scoped, month):
        figures.add("", clock.month_first(month), "provider", str(row["provider"]),
                    label=row["name"][:200],
                    detail=json.dumps({k: row.get(k) for k in PROVIDER_FIELDS},
                                      ensure_ascii=False))


async def _assessors(figures: _Figures, months: list[date]) -> None:
    since = datetime.combine(months[0], datetime.min.time(), clock.CHINA)
    by_assessor: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in await Assessment.select(
            Assessment.assessor_1, Assessment.assessor_2, Assessment.grade, Count()).where(
            _in_pooling(Assessment.region_path, figures.code)
            & (Assessment.concluded_at >= since) & Assessment.grade.is_not_null()).group_by(
            Assessment.assessor_1, Assessment.assessor_2, Assessment.grade):
        for assessor in {row["assessor_1"], row["assessor_2"]}:
            by_assessor[assessor][row["grade"]] += row["count"]
    who = await accounts.assessors_by_id(sorted(by_assessor))
    by_organisation: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    names: dict[int, str] = {}
    for assessor, grades in sorted(by_assessor.items()):
        person = who.get(assessor)
        label = person.display_name if person else str(assessor)
        if person is not None and person.organisation_id is not None:
            names[person.organisation_id] = person.organisation_name
            for grade, n in grades.items():
                by_organisation[person.organisation_id][grade] += n
        figures.add("", months[-1], "assessor", str(assessor), n=sum(grades.values()),
                    label=label[:200], detail=json.dumps(dict(sorted(grades.items()))))
    for organisation, grades in sorted(by_organisation.items()):
        figures.add("", months[-1], "organisation", str(organisation),
                    n=sum(grades.values()), label=names[organisation][:200],
                    detail=json.dumps(dict(sorted(grades.items()))))


async def refresh(code: str) -> int:
    """Make the pooling region's figures again (all of them, in one transaction, so a page
    sees the old set or the new one); returns how many rows."""
    started = time.monotonic()
    today = clock.today()
    months = window(today)
    figures = _Figures(code)
    await _cycle(figures, months)
    await _grades(figures, months, today)
    await _spend(figures, months)
    await _providers(figures, today)
    await _assessors(figures, months)
    async with db.write_transaction():
        await DashboardFigure.delete().where(DashboardFigure.pooling_code == code)
        for start in range(0, len(figures.rows), 500):
            await DashboardFigure.insert(*figures.rows[start:start + 500])
        await DashboardRefresh.insert(DashboardRefresh(
            pooling_code=code, refreshed_at=clock.now(),
            seconds=round(time.monotonic() - started))).on_conflict(
            target=DashboardRefresh.pooling_code, action="DO UPDATE",
            values=[DashboardRefresh.refreshed_at, DashboardRefresh.seconds])
    return len(figures.rows)


async def refresh_all() -> dict[str, int]:
    return {place.code: await refresh(place.code) for place in await regions.at_level("pooling")}


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose figures an actor sees: a pooling region, and a town when the actor is a town's."""

    pooling_code: str
    town_code: str = ""  # '' = the whole region
    fixed_town: bool = False  # a town clerk cannot look at another town


async def scope_of(actor: Actor, region: str = "", town: str = "") -> Scope:
    """The pooling region and town the actor may see: their own region (a town clerk's town
    only); an actor of every region (the admin) chooses one, the first by default."""
    require_role(actor, VIEWERS, "查看数据看板")
    if actor.region_path:
        parts = actor.region_path.split("/")
        if len(parts) > 1:
            return Scope(parts[0], parts[1], fixed_town=True)
        code = parts[0]
    else:
        codes = [p.code for p in await regions.at_level("pooling")]
        if not codes:
            raise InvalidInput("no_region", "系统中还没有统筹区")
        code = region if region in codes else codes[0]
    towns = {p.code for p in await regions.at_level("town", under=code)}
    return Scope(code, town if town in towns else "")


@dataclass
class Figures:
    """One scope's figures as the page and the report show them."""

    scope: Scope
    months: list[date]
    refreshed_at: datetime | None
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def default_month(self) -> date:
        """The newest month whose batch is paid (the dashboard speaks of money first), or
        last month when none is."""
        return self.paid_month(self.months[-2])

    def paid_month(self, upto: date) -> date:
        """The newest month up to `upto` whose batch is paid; `upto` when none is. A month's
        batch is approved early in the next, so last month's money is often not paid yet."""
        paid = [r["month"] for r in self.rows.get("spend", []) if r["month"] <= upto]
        return max(paid, default=upto)

    def of(self, figure: str, month: date | None = None) -> list[dict[str, Any]]:
        return [r for r in self.rows.get(figure, []) if month is None or r["month"] == month]


async def figures(scope: Scope, today: date) -> Figures:
    """The stored figures of the scope's town (or whole region): one indexed read."""
    months = window(today)
    stamp = await DashboardRefresh.select(DashboardRefresh.refreshed_at).where(
        DashboardRefresh.pooling_code == scope.pooling_code).first()
    result = Figures(scope, months, stamp["refreshed_at"] if stamp else None)
    for row in await DashboardFigure.select(
            DashboardFigure.month, DashboardFigure.figure, DashboardFigure.key,
            DashboardFigure.label, DashboardFigure.n, DashboardFigure.value,
            DashboardFigure.value2, DashboardFigure.detail, DashboardFigure.town_code).where(
            (DashboardFigure.pooling_code == scope.pooling_code)
            & ((DashboardFigure.town_code == scope.town_code)
               | DashboardFigure.figure.is_in(["provider", "assessor", "organisation"]))
            ).order_by(DashboardFigure.figure, DashboardFigure.month, DashboardFigure.key):
        result.rows.setdefault(row["figure"], []).append(row)
    return result


async def town_spend(scope: Scope, month: date) -> list[dict[str, Any]]:
    """The month's spend of each town of the region (the town chart), by town code."""
    where = ((DashboardFigure.pooling_code == scope.pooling_code)
             & (DashboardFigure.figure == "spend") & (DashboardFigure.month == month)
             & (DashboardFigure.town_code != ""))
    if scope.town_code:
        where &= DashboardFigure.town_code == scope.town_code
    return await DashboardFigure.select(
        DashboardFigure.town_code, Sum(DashboardFigure.value, alias="fen")).where(
        where).group_by(DashboardFigure.town_code).order_by(DashboardFigure.town_code)


def outliers(rows: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], rules.GradeSpread]]:
    """Assessor or organisation rows with their spread against the others'."""
    rows = list(rows)
    spreads = {s.unit: s for s in rules.grade_outliers(
        {r["key"]: {int(g): n for g, n in json.loads(r["detail"]).items()} for r in rows})}
    return [(r, spreads[r["key"]]) for r in rows]


# --- the budget ----------------------------------------------------------------------------


async def budget_of(code: str, year: int) -> dict[str, Any] | None:
    return await Budget.select(Budget.id, Budget.amount_fen, Budget.version).where(
        (Budget.region.code == code) & (Budget.year == year)).first()


async def set_budget(actor: Actor, code: str, year: int, amount_fen: int,
                     version: int | None) -> None:
    """The admin sets (or corrects) a pooling region's budget for a year; `version` is the
    one the form showed (None: there was none) — a stale one is a 409."""
    require_role(actor, frozenset({Role.admin}), "设置年度预算")
    if actor.kind != ActorKind.user:
        raise Forbidden("forbidden", "只有管理员可以设置年度预算")
    problems = {}
    if not 2000 <= year <= 2100:
        problems["year"] = "请填写年份，如 2026"
    if amount_fen <= 0:
        problems["amount"] = "请填写大于零的预算金额（元）"
    place = await regions.by_code(code)
    if place is None or place.level != "pooling":
        problems["region"] = "请选择统筹区"
    if problems:
        raise InvalidInput("invalid_budget", "年度预算填写有误", problems)
    async with db.write_transaction():
        current = await budget_of(code, year)
        if (current["version"] if current else None) != version:
            raise Conflict("stale", "该年度预算已被他人修改，请刷新页面后再设置")
        if current is None:
            await Budget.insert(Budget(region=place.id, year=year, amount_fen=amount_fen,
                                       set_by=actor.id, set_at=clock.now()))
        else:
            await Budget.update({Budget.amount_fen: amount_fen, Budget.set_by: actor.id,
                                 Budget.set_at: clock.now(), Budget.version: version + 1}).where(
                (Budget.id == current["id"]) & (Budget.version == version))
        await audit.record(actor, "dashboard.budget_set", "budget", f"{code}:{year}",
                           before={"amount_fen": current["amount_fen"]} if current else None,
                           after={"amount_fen": amount_fen})
