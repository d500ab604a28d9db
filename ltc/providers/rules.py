"""Pure rules for care providers: institutional bed-days, bed occupancy, return-visit
surveys (回访) and the monthly provider evaluation (上门服务率, 满意率). No I/O.

Day counting, decided here and reused by payouts (SPEC §7) and the evaluation:
- A stay gives a bed-day for every day from the admission day (counted) to the discharge day
  (not counted): admitted 3 November, discharged 5 November is two bed-days (3rd, 4th). An
  open stay (not yet discharged) counts to the end of the period asked about. The same
  "first day counts, end day does not" holds for a care-plan version in force from its
  `starts_on` until the next confirmed version's `starts_on` (ltc.careplans.rules.ends_on).
- Rates are integers in storage: tenths of a percent (875 is 87.5 %), rounded half up once;
  a mean score in tenths (43 is 4.3). A zero denominator has no rate (None), shown as "—".

The evaluation of a provider for a month (decided here; SPEC §1 多元化考核):
- Visits due: per beneficiary, each home-care plan version of the provider in force during
  the month is worth `visits_per_month × its active days in the month ÷ days in the month`,
  rounded half up (`due_visits`). Active days are those on which the entitlement is in force
  and not suspended (entitlements.rules.is_active_day): a beneficiary who starts on the 16th,
  dies on the 3rd or lies in hospital half the month is due fewer visits, because a visit on
  such a day would be flagged anyway. A plan in force the whole month is due in full.
- Visits credited: accepted visits (accepted, accepted after review) of the current record
  (not superseded by a revision) in the month, at most the visits due per beneficiary, so
  that extra visits to one person cannot hide missed visits to another.
- Completion rate (上门服务率) = credited ÷ due.
- Flag rate = visits ever flagged (flagged, accepted after review, rejected) ÷ visits logged,
  both counting current records only.
- Satisfaction (满意率) = surveys with a score of at least 4 ÷ surveys in the month; also the
  mean score.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ltc.visits.rules import Review

# --- months and periods ---------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str) -> date | None:
    """`2026-11` → 2026-11-01; None when it is not a month."""
    match = _MONTH.match(text.strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (1 <= month <= 12 and 2000 <= year <= 2999):
        return None
    return date(year, month, 1)








def days_in_period(starts_on: date, ends_before: date | None, first: date,
                   last: date) -> list[date]:
    """The days from `starts_on` (counted) to `ends_before` (not counted; None: open) that
    fall within `first`..`last` (both counted)."""
    start = max(starts_on, first)
    end = last if ends_before is None else min(ends_before - timedelta(days=1), last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# --- institutional stays --------------------------------------------------------------------

def bed_days(admitted_on: date, discharged_on: date | None, month_first: date,
             month_last: date) -> int:
    """Bed-days of a stay within `month_first`..`month_last` (any period, both days counted):
    the admission day counts, the discharge day does not, an open stay (discharged_on None)
    counts to `month_last`. Payouts multiply the active ones by the bed-day rate: use
    `bed_dates` with entitlements.rules.active_days for those."""
    start = max(admitted_on, month_first)
    end = month_last if discharged_on is None else min(discharged_on - timedelta(days=1),
                                                       month_last)
    return max(0, (end - start).days + 1)


def bed_dates(admitted_on: date, discharged_on: date | None, month_first: date,
              month_last: date) -> list[date]:
    """The days `bed_days` counts, for intersecting with an entitlement's active days."""
    return days_in_period(admitted_on, discharged_on, month_first, month_last)


def occupies(admitted_on: date, discharged_on: date | None, day: date) -> bool:
    """Whether a stay holds a bed on `day` (the night after the discharge day is free)."""
    return admitted_on <= day and (discharged_on is None or day < discharged_on)


def overlaps(admitted_on: date, other_admitted_on: date,
             other_discharged_on: date | None) -> bool:
    """Whether an open stay from `admitted_on` would overlap another stay of the person:
    discharged on the 5th and admitted elsewhere on the 5th is no overlap."""
    return other_discharged_on is None or other_discharged_on > admitted_on


def peak_occupancy(stays: Iterable[tuple[date, date | None]], from_day: date) -> int:
    """The most beds `stays` hold on any day from `from_day` on. Occupancy only rises on an
    admission day, so it is enough to look at `from_day` and every later admission."""
    stays = list(stays)
    days = {from_day} | {admitted for admitted, _ in stays if admitted > from_day}
    return max(sum(1 for a, d in stays if occupies(a, d, day)) for day in days)


def stay_problems(*, admitted_on: date, today: date, has_beds: bool, beds: int,
                  occupied: int, overlapping: dict[str, Any] | None,
                  entitlement_active: bool) -> dict[str, str]:
    """Every reason an admission is refused, by form field (一次性告知)."""
    problems: dict[str, str] = {}
    if admitted_on > today:
        problems["admitted_on"] = "入住日期不能晚于今天，请在入住当天或之后登记"
    elif not entitlement_active:
        problems["admitted_on"] = ("入住当天待遇资格不在享受期内（未开始、暂停或已终止），"
                                   "请核对入住日期或待遇资格")
    if overlapping is not None:
        where = overlapping["institution.name"]
        since = overlapping["admitted_on"].isoformat()
        problems["entitlement"] = (f"此人自 {since} 起在{where}住养尚未出院，"
                                   "请先为原住养办理出院")
    if not has_beds:
        problems["institution"] = "该机构在入住当天没有有效的机构护理（床位）协议，请选择其他机构"
    elif occupied + 1 > beds:
        problems["institution"] = (f"该机构协议床位 {beds} 张，入住当天起已住满 "
                                   f"{occupied} 张，请选择其他机构或先办理出院")
    return problems


def discharge_problems(*, admitted_on: date, discharged_on: date, today: date) -> dict[str, str]:
    problems: dict[str, str] = {}
    if discharged_on <= admitted_on:
        problems["discharged_on"] = (f"出院日期必须晚于入住日期 {admitted_on.isoformat()}"
                                     "（出院当天不计床日）")
    elif discharged_on > today:
        problems["discharged_on"] = "出院日期不能晚于今天，请在出院当天或之后办理"
    return problems


# --- surveys ---------------------------------------------------------------------------------

SCORES = range(1, 6)
SATISFIED_FROM = 4  # a score of 4 or 5 counts as satisfied
SCORE_LABELS = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "非常不满意"}
COMMENT_MAX = 500


def survey_problems(*, score: int, surveyed_on: date | None, today: date,
                    comment: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if score not in SCORES:
        problems["score"] = "请选择 1 到 5 分之间的满意度评分"
    if surveyed_on is None:
        problems["surveyed_on"] = "请按 2026-10-01 的格式填写回访日期"
    elif surveyed_on > today:
        problems["surveyed_on"] = "回访日期不能晚于今天"
    if len(comment) > COMMENT_MAX:
        problems["comment"] = f"意见不能超过 {COMMENT_MAX} 字，请精简"
    return problems


# --- rates -----------------------------------------------------------------------------------

def _half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def rate_tenths(numerator: int, denominator: int) -> int | None:
    """A percentage in tenths of a percent, rounded half up: 7 of 8 is 875 (87.5 %); None
    when there is nothing to divide by."""
    return None if denominator <= 0 else _half_up(1000 * numerator, denominator)


def mean_tenths(total: int, count: int) -> int | None:
    """A mean in tenths, rounded half up: scores 5, 4, 4 → 43 (4.3)."""
    return None if count <= 0 else _half_up(10 * total, count)


def due_visits(visits_per_month: int, active_days: int, days_in_month: int) -> int:
    """Visits a plan version is due for its active days in a month, rounded half up:
    4 a month for 15 of 30 days is 2; for 7 of 30 days 0.93 is 1."""
    return _half_up(visits_per_month * active_days, days_in_month)


def format_percent(tenths: int | None) -> str:
    return "—" if tenths is None else f"{tenths // 10}.{tenths % 10}%"


def format_score(tenths: int | None) -> str:
    return "—" if tenths is None else f"{tenths // 10}.{tenths % 10}"


# --- the evaluation --------------------------------------------------------------------------

ACCEPTED = frozenset({Review.accepted, Review.accepted_after_review})
# A reviewer only decides flagged visits, so these were all flagged when logged.
FLAGGED_EVER = frozenset({Review.flagged, Review.accepted_after_review, Review.rejected})


@dataclass(frozen=True)
class ProviderMonth:
    """One provider's figures for one month; the rates derive from them."""

    provider: int
    name: str
    due: int = 0
    accepted: int = 0
    credited: int = 0  # accepted, at most the visits due per beneficiary
    logged: int = 0
    flagged: int = 0
    surveys: int = 0
    satisfied: int = 0
    score_total: int = 0

    @property
    def completion(self) -> int | None:
        return rate_tenths(self.credited, self.due)

    @property
    def flag_rate(self) -> int | None:
        return rate_tenths(self.flagged, self.logged)

    @property
    def satisfaction(self) -> int | None:
        return rate_tenths(self.satisfied, self.surveys)

    @property
    def mean_score(self) -> int | None:
        return mean_tenths(self.score_total, self.surveys)

    def as_row(self) -> dict[str, Any]:
        return {
            "provider": self.provider, "name": self.name, "due": self.due,
            "accepted": self.accepted, "credited": self.credited, "logged": self.logged,
            "flagged": self.flagged, "surveys": self.surveys, "satisfied": self.satisfied,
            "completion": self.completion, "flag_rate": self.flag_rate,
            "satisfaction": self.satisfaction, "mean_score": self.mean_score,
            "completion_text": format_percent(self.completion),
            "flag_rate_text": format_percent(self.flag_rate),
            "satisfaction_text": format_percent(self.satisfaction),
            "mean_score_text": format_score(self.mean_score),
        }


def credited_visits(accepted: int, due: int) -> int:
    return min(accepted, due)


def survey_totals(score_counts: Iterable[tuple[int, int]]) -> tuple[int, int, int]:
    """(surveys, satisfied, score total) from (score, how many) pairs."""
    pairs = list(score_counts)
    return (sum(n for _, n in pairs), sum(n for s, n in pairs if s >= SATISFIED_FROM),
            sum(s * n for s, n in pairs))


# Columns of the evaluation table a reader may sort by, and their headings.
SORT_COLUMNS = {
    "name": "机构", "due": "应上门次数", "credited": "计入完成次数", "completion": "上门服务率",
    "logged": "上门记录", "flag_rate": "标记率", "surveys": "满意度评价次数",
    "satisfaction": "满意率", "mean_score": "平均评分",
}
DEFAULT_SORT = "completion"


def sort_rows(rows: Sequence[dict[str, Any]], key: str,
              descending: bool) -> list[dict[str, Any]]:
    """Rows sorted by `key` (a SORT_COLUMNS name, else the default), rows without a value
    (a rate with nothing to divide by) last either way; ties by provider name."""
    key = key if key in SORT_COLUMNS else DEFAULT_SORT
    by_name = sorted(rows, key=lambda r: (r["name"], r["provider"]))
    present = [r for r in by_name if r[key] is not None]
    missing = [r for r in by_name if r[key] is None]
    return sorted(present, key=lambda r: r[key], reverse=descending) + missing
