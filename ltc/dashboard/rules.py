"""Pure rules of the dashboard: working-day cycle times, their percentiles and the grade
outlier rule for assessment organisations and assessors. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise

from ltc.clock import WorkingCalendar, as_date

# The milestones of one case, in order; each stage is from one milestone to the next.
MILESTONES = ("submitted", "accepted", "assessed", "concluded", "noticed", "paid")
STAGES: dict[str, str] = {
    "accepted": "申请→受理",
    "assessed": "受理→评估",
    "concluded": "评估→结论",
    "noticed": "结论→公示",
    "paid": "公示→首次支付",
    "total": "申请→首次支付",
}


def working_days_between(start: date, end: date, calendar: WorkingCalendar) -> int:
    """Working days after `start` up to and including `end` (as a statutory time limit counts:
    the start day itself never counts). 0 when `end` is `start`; ValueError when before it."""
    start, end = as_date(start), as_date(end)
    if end < start:
        raise ValueError(f"{end.isoformat()} is before {start.isoformat()}")
    return sum(calendar.is_working_day(start + timedelta(days=n))
               for n in range(1, (end - start).days + 1))


def stage_days(milestones: Mapping[str, date | None],
               calendar: WorkingCalendar) -> dict[str, int]:
    """Working days of each stage whose two ends are known, and `total` (application to first
    payment) when both are. A milestone recorded before its predecessor (a data repair) gives
    no figure for that stage rather than a negative one."""
    days: dict[str, int] = {}
    for before, after in pairwise(MILESTONES):
        start, end = milestones.get(before), milestones.get(after)
        if start is not None and end is not None and as_date(end) >= as_date(start):
            days[after] = working_days_between(start, end, calendar)
    first, last = milestones.get("submitted"), milestones.get("paid")
    if first is not None and last is not None and as_date(last) >= as_date(first):
        days["total"] = working_days_between(first, last, calendar)
    return days


def percentile(values: Sequence[int], q: int) -> int | None:
    """The nearest-rank q-th percentile (1 ≤ q ≤ 100): the smallest value with at least q % of
    the values at or below it, always one of the values (a day count, never 7.5 days).
    None for no values."""
    if not 1 <= q <= 100:
        raise ValueError(f"q must be 1..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-q * len(ordered) // 100)  # ceil(q·n/100), in integers
    return ordered[rank - 1]


# --- grade outliers: an assessor or organisation grading far from their peers -----------------

MIN_SAMPLE = 20  # fewer concluded assessments say nothing about a habit
MEAN_GAP = Fraction(1, 2)  # half a grade above or below the peers' mean, on average


@dataclass(frozen=True)
class GradeSpread:
    unit: str  # an assessor's or organisation's key
    count: int
    mean: Fraction | None
    peers_mean: Fraction | None
    marked: str  # "" | "high" (偏重) | "low" (偏轻) | "few" (样本不足)


def _mean(counts: Mapping[int, int]) -> Fraction | None:
    total = sum(counts.values())
    return Fraction(sum(g * n for g, n in counts.items()), total) if total else None


def grade_outliers(distributions: Mapping[str, Mapping[int, int]],
                   min_sample: int = MIN_SAMPLE,
                   gap: Fraction = MEAN_GAP) -> list[GradeSpread]:
    """Each unit's mean grade against its peers' (every other unit's assessments together),
    marked "high" or "low" when it is `gap` or more away and the unit has at least
    `min_sample` assessments; "few" below the sample, whatever its mean. Exact fractions, so
    the edges are the edges. Sorted by unit."""
    result = []
    for unit in sorted(distributions):
        own = {g: n for g, n in distributions[unit].items() if n}
        peers: dict[int, int] = {}
        for other, counts in distributions.items():
            if other != unit:
                for g, n in counts.items():
                    peers[g] = peers.get(g, 0) + n
        count, mean, peers_mean = sum(own.values()), _mean(own), _mean(peers)
        if count < min_sample:
            marked = "few"
        elif mean is None or peers_mean is None or abs(mean - peers_mean) < gap:
            marked = ""
        else:
            marked = "high" if mean > peers_mean else "low"
        result.append(GradeSpread(unit, count, mean, peers_mean, marked))
    return result


OUTLIER_LABELS = {"high": "明显偏重", "low": "明显偏轻", "few": "样本不足", "": ""}
