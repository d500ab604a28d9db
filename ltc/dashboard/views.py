"""The dashboard's sections — each a chart, the same figures as a table, and a CSV of that
table — built once from the stored figures for the page, the monthly report and the exports,
so the three can never disagree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from ltc import clock, money
from ltc.dashboard import rules, service
from ltc.grades import Grade
from ltc.regions import interface as regions
from ltc.web.charts import Bar, bar_chart


@dataclass(frozen=True)
class Section:
    key: str  # its CSV: /dashboard/export.csv?section=<key>
    title: str
    svg: str
    header: list[str]
    rows: list[list[Any]]  # all of them: the CSV
    note: str = ""
    shown: list[list[Any]] | None = None  # the page's and the report's, when not all

    @property
    def table(self) -> list[list[Any]]:
        return self.rows if self.shown is None else self.shown


def _month_label(month: date) -> str:
    return f"{month.year}年{month.month}月"


def _short(name: str, most: int = 14) -> str:
    """A chart label: the table beside it has the full name."""
    return name if len(name) <= most else name[:most - 1] + "…"


def _days(n: int | None) -> str:
    return "—" if n is None else f"{n}天"


def _mean_text(mean: Fraction | None) -> str:
    return "—" if mean is None else f"{float(mean):.2f}"


def _cycle(f: service.Figures, month: date) -> Section:
    rows = {r["key"]: r for r in f.of("cycle", month)}
    bars, table = [], []
    for stage, label in rules.STAGES.items():
        row = rows.get(stage)
        if row is None:
            table.append([label, 0, "—", "—"])
            continue
        bars.append(Bar(label, row["value"], f"中位{row['value']} / P90 {row['value2']}天",
                        reference=row["value2"]))
        table.append([label, row["n"], _days(row["value"]), _days(row["value2"])])
    title = f"{_month_label(month)}申请的办理时长（工作日）"
    return Section("cycle", title, bar_chart(title, bars, reference_label="90%分位数"),
                   ["阶段", "件数", "中位数", "90%分位数"], table,
                   "按申请月份统计；工作日按国家法定节假日和调休安排计算，受理当天不计。")


def _cycle_trend(f: service.Figures) -> Section:
    totals = {r["month"]: r for r in f.of("cycle") if r["key"] == "total"}
    bars, table = [], []
    for month in f.months:
        row = totals.get(month)
        if row is not None:
            bars.append(Bar(_month_label(month), row["value"],
                            f"中位{row['value']} / P90 {row['value2']}天",
                            reference=row["value2"]))
        table.append([_month_label(month), row["n"] if row else 0,
                      _days(row["value"] if row else None), _days(row["value2"] if row else None)])
    title = "申请到首次支付的总时长（按申请月份，工作日）"
    return Section("cycle_trend", title, bar_chart(title, bars, reference_label="90%分位数"),
                   ["申请月份", "已首次支付件数", "中位数", "90%分位数"], table)


def _applications(f: service.Figures) -> Section:
    counted = {r["month"]: r["n"] for r in f.of("applications")}
    table = [[_month_label(m), counted.get(m, 0)] for m in f.months]
    title = "每月申请量"
    return Section("applications", title,
                   bar_chart(title, [Bar(m, n, f"{n}件") for m, n in table]),
                   ["月份", "申请件数"], table)


def _grades(f: service.Figures, month: date) -> Section:
    counted = {int(r["key"]): r["n"] for r in f.of("grade", month)}
    table = [[Grade.label_of(g), counted.get(g, 0)] for g in sorted(counted)]
    title = f"{_month_label(month)}末享受待遇人数（按失能等级）"
    return Section("grades", title, bar_chart(title, [Bar(g, n, f"{n}人") for g, n in table]),
                   ["失能等级", "人数"], table)


def _benefits(f: service.Figures, month: date) -> Section:
    spend = {r["key"]: r for r in f.of("spend", month)}
    table = [[service.BENEFITS.get(key, key), r["n"], money.yuan(r["value"] or 0)]
             for key, r in sorted(spend.items())]
    bars = [Bar(service.BENEFITS.get(key, key), r["value"] or 0, money.yuan(r["value"] or 0))
            for key, r in sorted(spend.items())]
    title = f"{_month_label(month)}基金支出（按待遇类型）"
    return Section("benefits", title, bar_chart(title, bars),
                   ["待遇类型", "支付人数", "支出金额"], table,
                   "已审批的月度结算批次，按结算月份。")


def _spend(f: service.Figures, budgets: dict[int, int] | None) -> Section:
    """Spend by month against the monthly share of the year's budget; `budgets` None for a
    town, whose spend is not comparable with the region's budget (it is not split by town)."""
    by_month: dict[date, int] = {}
    for r in f.of("spend"):
        by_month[r["month"]] = by_month.get(r["month"], 0) + (r["value"] or 0)
    bars, table, year_total = [], [], 0
    for month in f.months:
        fen = by_month.get(month, 0)
        # The window starts inside last year: that year's running total would be short.
        year_total = fen + (year_total if month.month > 1 else 0)
        whole_year = month.year > f.months[0].year or f.months[0].month == 1
        total = money.yuan(year_total) if whole_year else "—"
        if budgets is None:
            bars.append(Bar(_month_label(month), fen, money.yuan(fen)))
            table.append([_month_label(month), money.yuan(fen), total])
            continue
        monthly = budgets[month.year] // 12 if month.year in budgets else None
        over = monthly is not None and fen > monthly
        bars.append(Bar(_month_label(month), fen, money.yuan(fen), reference=monthly,
                        marked=over))
        table.append([_month_label(month), money.yuan(fen), total,
                      money.yuan(monthly) if monthly else "未设置", "超出" if over else ""])
    if budgets is None:
        title = "每月基金支出"
        return Section("spend", title, bar_chart(title, bars), ["月份", "支出", "本年累计"],
                       table, "年度基金预算是全统筹区的，不分到乡镇，这里不作比较。")
    title = "每月基金支出与预算"
    note = "红色为超出月均预算（年度预算 ÷ 12）的月份。" + (
        "" if f.months[-1].year in budgets else "本年度预算尚未设置（由系统管理员在本页设置）。")
    return Section("spend", title, bar_chart(title, bars, reference_label="月均预算"),
                   ["月份", "支出", "本年累计", "月均预算", "是否超出"], table,
                   note)


def _towns(rows: list[dict[str, Any]], names: dict[str, str], month: date) -> Section:
    table = [[names.get(r["town_code"], r["town_code"]), money.yuan(int(r["fen"] or 0))]
             for r in rows]
    bars = [Bar(names.get(r["town_code"], r["town_code"]), int(r["fen"] or 0),
                money.yuan(int(r["fen"] or 0))) for r in rows]
    title = f"{_month_label(month)}基金支出（按乡镇）"
    return Section("towns", title, bar_chart(title, bars), ["乡镇", "支出金额"], table)


LEAGUE_ENDS = 10  # the page shows the league's top and bottom ten; the CSV has every one


def _providers(f: service.Figures) -> Section:
    rows = [json.loads(r["detail"]) for r in f.of("provider")]
    rows.sort(key=lambda r: (-(r["completion"] or 0), r["name"]))
    month = f.of("provider")[0]["month"] if rows else clock.previous_month(f.months[-1])
    ends = rows if len(rows) <= 2 * LEAGUE_ENDS else rows[:LEAGUE_ENDS] + rows[-LEAGUE_ENDS:]
    bars = [Bar(_short(r["name"]), r["completion"] or 0, r["completion_text"],
                marked=bool(r["returns_denied"])) for r in ends]
    table = [[rank, r["name"], r["due"], r["completion_text"], r["satisfaction_text"],
              r["flagged"], r["flag_rate_text"], r["returns_sampled"],
              r["returns_confirmed_rate"], r["returns_denied"]]
             for rank, r in enumerate(rows, start=1)]
    shown = None if ends is rows else table[:LEAGUE_ENDS] + table[-LEAGUE_ENDS:]
    title = f"{_month_label(month)}护理机构排行（上门服务率）"
    note = "红色为有家属在电话回访中否认服务的机构。数据同机构考核页。" + (
        "" if shown is None else f"共{len(rows)}家，这里列出前{LEAGUE_ENDS}名和后"
                                 f"{LEAGUE_ENDS}名，完整排行请导出 CSV。")
    return Section("providers", title, bar_chart(title, bars),
                   ["名次", "机构", "应上门次数", "上门服务率", "满意率", "被标记记录", "标记率",
                    "回访抽样", "回访确认率", "回访否认"], table, note, shown)


def _grade_spread(f: service.Figures, figure: str, who: str) -> Section:
    bars, table = [], []
    for row, spread in service.outliers(f.of(figure)):
        counts = json.loads(row["detail"])
        mean_100 = round(spread.mean * 100) if spread.mean is not None else 0
        peers = round(spread.peers_mean * 100) if spread.peers_mean is not None else None
        mark = rules.OUTLIER_LABELS[spread.marked]
        bars.append(Bar(_short(row["label"]), mean_100,
                        f"{_mean_text(spread.mean)}{' ' + mark if mark else ''}",
                        reference=peers, marked=spread.marked in ("high", "low")))
        table.append([row["label"], spread.count,
                      *[counts.get(str(g), 0) for g in range(6)],
                      _mean_text(spread.mean), _mean_text(spread.peers_mean), mark])
    title = f"{who}评定等级：平均等级与同行对比（近12个月）"
    return Section(figure, title, bar_chart(title, bars, reference_label="同行平均等级"),
                   [who, "评估件数", *[Grade.label_of(g) for g in range(6)], "平均等级",
                    "同行平均", "标记"], table,
                   f"平均等级按0（基本正常）至5（重度失能Ⅲ级）计；与其他{who}合计的平均相差"
                   f"半级及以上且样本不少于{rules.MIN_SAMPLE}件的标红（可能存在评定偏重或偏轻），"
                   f"不足{rules.MIN_SAMPLE}件的只列出不判断。")


async def sections(f: service.Figures, month: date) -> list[Section]:
    """Every section of the scope's dashboard for `month` (a month of the window); each
    section's title names the month it shows."""
    budgets: dict[int, int] | None = None  # a town's spend is not held against the budget
    if not f.scope.town_code:
        budgets = {}
        for year in sorted({m.year for m in f.months}):
            budget = await service.budget_of(f.scope.pooling_code, year)
            if budget is not None:
                budgets[year] = budget["amount_fen"]
    paid = f.paid_month(month)  # the money sections: the newest paid month up to `month`
    towns = await service.town_spend(f.scope, paid)
    names = await regions.names_by_code([r["town_code"] for r in towns])
    result = [_cycle(f, month), _cycle_trend(f), _applications(f), _grades(f, month),
              _benefits(f, paid), _spend(f, budgets)]
    if not f.scope.town_code:
        result.append(_towns(towns, names, paid))
    result += [_providers(f), _grade_spread(f, "organisation", "评估机构"),
               _grade_spread(f, "assessor", "评估员")]
    return result
