"""稽核: patterns across a month's home visits that no single visit shows, as pure rules. No I/O.

The nightly run (ltc.inspections.service) feeds each rule the month's visits so far — one
staff member's at a time, in the order they started — and stores what it finds. Each finding
names its rule, the provider and staff member, the visits, and the facts in Chinese, so the
reviewer can judge it on one page. Its `key` is stable from night to night: a rule and the
visits (or, for a pattern that may grow during the month, what binds them — the staff member
and month, the signature), so a second run updates an open finding instead of adding one.

The patterns, each with its policy parameters (ltc.policy.rules):
1. travel — two consecutive visits of one staff member whose check-ins are further apart
   than the policy speed allows in the time between the end of one and the start of the
   next; exactly at the speed is possible.
2. same_spot — one staff member checking in within a few metres of the same point for
   different beneficiaries (homes are not that close).
3. far_share — a staff member whose check-ins are far from the beneficiary's home (further
   than the radius; exactly at it is near) in at least the policy share of their visits.
4. burst — at least the policy count of visits logged within minutes of each other, each
   logged long after it ended: a batch typed up after the fact.
5. shared_confirmation — the family's confirmation (the same signature image, or the same
   confirmer named by one staff member) on visits of different beneficiaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from ltc.clock import CHINA
from ltc.visits.rules import distance_metres

Point = tuple[float, float]

# A share of far check-ins means little over a handful of visits.
FAR_SHARE_MIN_VISITS = 5


class Rule(StrEnum):
    travel = "travel"
    same_spot = "same_spot"
    far_share = "far_share"
    burst = "burst"
    shared_confirmation = "shared_confirmation"

    @property
    def label(self) -> str:
        return RULE_LABELS[self]


RULE_LABELS = {
    Rule.travel: "行程不可能（两次签到间移动过快）",
    Rule.same_spot: "同一位置为不同服务对象签到",
    Rule.far_share: "签到远离住址比例过高",
    Rule.burst: "集中补录",
    Rule.shared_confirmation: "家属确认跨家庭重复",
}


class State(StrEnum):
    open = "open"
    confirmed = "confirmed"
    cleared = "cleared"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {State.open: "待核实", State.confirmed: "已确认违规", State.cleared: "已排除"}
DECISIONS = {"confirm": State.confirmed, "clear": State.cleared}
MAX_REASON = 1000


@dataclass(frozen=True)
class Thresholds:
    """The policy parameters of the rules (ltc.policy.rules, inspection_*)."""

    speed_kmh: int
    same_spot_metres: int
    far_metres: int
    far_share_percent: int
    burst_count: int
    burst_minutes: int
    burst_hours: int


@dataclass(frozen=True)
class Seen:
    """One visit as the rules see it. `logged_at`: when it was first recorded."""

    id: int
    person: int
    provider: int
    staff: int
    started_at: datetime
    ended_at: datetime
    logged_at: datetime
    checkin: Point | None = None
    home: Point | None = None
    signature: str | None = None
    confirmer: str = ""


@dataclass(frozen=True)
class Finding:
    rule: Rule
    key: str
    provider: int
    staff: int | None
    visit_ids: tuple[int, ...]
    details: str


def _at(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%m月%d日 %H:%M")


def _km(apart: float) -> str:
    return f"{apart / 1000:.1f} 公里" if apart >= 1000 else f"{apart:.0f} 米"


def _month(visit: Seen) -> str:
    return visit.started_at.astimezone(CHINA).strftime("%Y-%m")


# --- 1. impossible travel ---------------------------------------------------------------------

def metres(a: Point, b: Point) -> int:
    """The distance in whole metres (phone GPS is not finer), so a limit is met exactly."""
    return round(distance_metres(a, b))


def too_fast(a: Seen, b: Seen, limit_kmh: int) -> bool | None:
    """Whether getting from `a`'s check-in to `b`'s in the time from the end of `a` to the
    start of `b` needs more than `limit_kmh`; exactly the limit is possible. None without
    both check-ins. Whole metres and seconds, compared as integers."""
    if a.checkin is None or b.checkin is None:
        return None
    seconds = int((b.started_at - a.ended_at).total_seconds())
    return metres(a.checkin, b.checkin) * 3600 > limit_kmh * 1000 * max(seconds, 0)


def travel(visits: Sequence[Seen], limits: Thresholds) -> list[Finding]:
    """One staff member's visits in start order: each consecutive pair above the speed."""
    found = []
    for a, b in pairwise(visits):
        if not too_fast(a, b, limits.speed_kmh):
            continue
        assert a.checkin is not None and b.checkin is not None
        apart = metres(a.checkin, b.checkin)
        seconds = (b.started_at - a.ended_at).total_seconds()
        needed = ("两次服务时间重叠" if seconds <= 0
                  else f"需时速约 {apart / 1000 / (seconds / 3600):.0f} 公里")
        found.append(Finding(
            Rule.travel, f"{Rule.travel}:{a.id},{b.id}", b.provider, b.staff, (a.id, b.id),
            f"{_at(a.ended_at)} 结束的服务与 {_at(b.started_at)} 开始的服务相隔 "
            f"{max(0, round(seconds / 60))} 分钟，两次签到相距 {_km(apart)}，{needed}，"
            f"超过政策规定的 {limits.speed_kmh} 公里/小时"))
    return found


# --- 2. one spot, several homes ---------------------------------------------------------------

def same_spot(visits: Sequence[Seen], limits: Thresholds) -> list[Finding]:
    """One staff member's check-ins within `same_spot_metres` of a visit for another person:
    each group (anchored at its first visit) with two or more different people. Points are
    bucketed in a grid of about the distance, so a month of one person's visits is cheap."""
    cell = max(limits.same_spot_metres, 1) / 111_000  # degrees of latitude, about
    grid: dict[tuple[int, int], list[Seen]] = {}
    groups: dict[int, list[Seen]] = {}  # anchor visit id → its group
    anchor_of: dict[int, int] = {}
    for v in visits:
        if v.checkin is None:
            continue
        gx, gy = int(v.checkin[0] // cell), int(v.checkin[1] // cell)
        anchor, repeat = None, False
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for other in grid.get((gx + dx, gy + dy), ()):
                    assert other.checkin is not None
                    if metres(v.checkin, other.checkin) <= limits.same_spot_metres:
                        candidate = anchor_of[other.id]
                        anchor = candidate if anchor is None else min(anchor, candidate)
                        repeat = repeat or other.person == v.person
        anchor = v.id if anchor is None else anchor
        anchor_of[v.id] = anchor
        groups.setdefault(anchor, []).append(v)
        if not repeat:  # the same home again adds nothing to match against: cells stay short
            grid.setdefault((gx, gy), []).append(v)
    found = []
    for anchor, group in groups.items():
        people = {v.person for v in group}
        if len(people) < 2:
            continue
        first = group[0]
        found.append(Finding(
            Rule.same_spot, f"{Rule.same_spot}:{anchor}", first.provider, first.staff,
            tuple(v.id for v in group),
            f"同一服务人员在相距不超过 {limits.same_spot_metres} 米的同一位置，为 {len(people)} "
            f"位不同的服务对象签到 {len(group)} 次（首次 {_at(first.started_at)}）"))
    return found


# --- 3. far from home, as a share -------------------------------------------------------------

def far(visit: Seen, limits: Thresholds) -> bool | None:
    """Whether the check-in is further than the radius from home; None when either is
    unknown. Exactly at the radius is near."""
    if visit.checkin is None or visit.home is None:
        return None
    return metres(visit.checkin, visit.home) > limits.far_metres


def far_share(visits: Sequence[Seen], limits: Thresholds) -> list[Finding]:
    """One staff member's month: a finding when at least `far_share_percent` of the visits
    that can be measured (and at least FAR_SHARE_MIN_VISITS of them) were checked in far
    from home."""
    measured = [(v, far(v, limits)) for v in visits]
    measured = [(v, is_far) for v, is_far in measured if is_far is not None]
    far_ones = [v for v, is_far in measured if is_far]
    if len(measured) < FAR_SHARE_MIN_VISITS or not far_ones:
        return []
    if len(far_ones) * 100 < limits.far_share_percent * len(measured):
        return []
    first = far_ones[0]
    share = len(far_ones) * 100 / len(measured)
    return [Finding(
        Rule.far_share, f"{Rule.far_share}:{first.staff}@{_month(first)}", first.provider,
        first.staff, tuple(v.id for v in far_ones),
        f"本月可核对位置的 {len(measured)} 次服务中，有 {len(far_ones)} 次（{share:.0f}%）签到位置"
        f"距服务对象登记住址超过 {limits.far_metres} 米，达到政策规定的 "
        f"{limits.far_share_percent}%")]


# --- 4. bursts of late entries ----------------------------------------------------------------

def late(visit: Seen, limits: Thresholds) -> bool:
    """Logged at least `burst_hours` after it ended."""
    return visit.logged_at - visit.ended_at >= timedelta(hours=limits.burst_hours)


def burst(visits: Iterable[Seen], limits: Thresholds) -> list[Finding]:
    """One staff member's late entries, in the order they were logged: each run where
    consecutive loggings are at most `burst_minutes` apart and that holds at least
    `burst_count` visits."""
    ordered = sorted((v for v in visits if late(v, limits)), key=lambda v: (v.logged_at, v.id))
    window = timedelta(minutes=limits.burst_minutes)
    runs: list[list[Seen]] = []
    for v in ordered:
        if runs and v.logged_at - runs[-1][-1].logged_at <= window:
            runs[-1].append(v)
        else:
            runs.append([v])
    found = []
    for run in runs:
        if len(run) < limits.burst_count:
            continue
        first, last = run[0], run[-1]
        found.append(Finding(
            Rule.burst, f"{Rule.burst}:{first.id}", first.provider, first.staff,
            tuple(v.id for v in run),
            f"{_at(first.logged_at)} 至 {_at(last.logged_at)} 集中登记了 {len(run)} 次服务"
            f"（相邻两次登记间隔不超过 {limits.burst_minutes} 分钟），每次都在服务结束 "
            f"{limits.burst_hours} 小时以后才登记"))
    return found


# --- 5. one confirmation, several households -------------------------------------------------

def shared_signature(visits: Iterable[Seen]) -> list[Finding]:
    """Visits carrying the same signature image for different beneficiaries: one finding per
    signature and month, naming the staff member when only one logged them."""
    by_signature: dict[str, list[Seen]] = {}
    for v in visits:
        if v.signature:
            by_signature.setdefault(v.signature, []).append(v)
    found = []
    for signature, group in by_signature.items():
        people = {v.person for v in group}
        if len(people) < 2:
            continue
        first = group[0]
        staff = {v.staff for v in group}
        found.append(Finding(
            Rule.shared_confirmation,
            f"{Rule.shared_confirmation}:sig:{signature}@{_month(first)}", first.provider,
            first.staff if len(staff) == 1 else None,
            tuple(v.id for v in group),
            f"同一张家属签名图片（SHA-256 {signature[:12]}…）出现在 {len(people)} 位不同服务对象的 "
            f"{len(group)} 次服务记录上"))
    return found


def shared_confirmer(visits: Iterable[Seen]) -> list[Finding]:
    """One staff member's visits naming the same confirmer (spaces ignored) for different
    beneficiaries: one finding per name and month."""
    by_name: dict[str, list[Seen]] = {}
    for v in visits:
        if name := "".join(v.confirmer.split()):
            by_name.setdefault(name, []).append(v)
    found = []
    for name, group in by_name.items():
        people = {v.person for v in group}
        if len(people) < 2:
            continue
        first = group[0]
        found.append(Finding(
            Rule.shared_confirmation,
            f"{Rule.shared_confirmation}:name:{first.staff}:{name}@{_month(first)}",
            first.provider, first.staff, tuple(v.id for v in group),
            f"同一服务人员的记录中，确认家属“{name}”出现在 {len(people)} 位不同服务对象的 "
            f"{len(group)} 次服务记录上"))
    return found


def per_staff(visits: Sequence[Seen], limits: Thresholds) -> list[Finding]:
    """The rules read one staff member at a time (all but the shared signature), over their
    visits in start order."""
    return [*travel(visits, limits), *same_spot(visits, limits), *far_share(visits, limits),
            *burst(visits, limits), *shared_confirmer(visits)]


def decision_problems(decision: str, reason: str) -> dict[str, str]:
    problems = {}
    if decision not in DECISIONS:
        problems["decision"] = "请选择“确认违规”或“排除”"
    if not reason.strip():
        problems["reason"] = ("请填写核实情况和理由，它会写入记录；"
                              "确认违规的，也作为驳回服务记录的理由")
    elif len(reason.strip()) > MAX_REASON:
        problems["reason"] = f"理由不超过{MAX_REASON}个字"
    return problems
