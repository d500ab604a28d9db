"""Visit records (SPEC §6) as pure rules: what a visit must say to be recorded at all, the
automatic flags a recorded visit may carry, the review states, the reasons for a
revision, and which visits are overdue. No I/O.

A visit with no flag is accepted automatically (自动通过); a flagged one waits for a
reviewer (待审核), who accepts (审核通过) or rejects (审核不通过) it with a reason. Every flag
has a stable code (for the API and the payout rules) and a Chinese reason that names the
facts, so the reviewer can judge it without opening five other pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from ltc.clock import CHINA
from ltc.entitlements.rules import EntitlementFacts, EntitlementState, Interval, state_on

# A check-in further than this from the beneficiary's registered address is flagged. Phone
# GPS is good to tens of metres outdoors but drifts by a few hundred indoors and between
# village houses, and a registered address is often geocoded to the village's centre rather
# than the door: 500 m tolerates both, and still catches a visit logged from the clinic or
# another village (villages are typically 1–3 km apart).
FAR_FROM_HOME_METRES = 500
EARTH_RADIUS_METRES = 6_371_008.8  # the mean radius (IUGG)

# One visit longer than this is a typing mistake (a wrong day or AM/PM), not a visit.
MAX_VISIT_HOURS = 12
# Phone clocks drift: an end time up to this far ahead of the server's clock is not "future".
CLOCK_TOLERANCE = timedelta(minutes=5)
# An app offline for weeks still syncs; a visit older than this is a typing slip in the
# year (and long past any monthly payout).
MAX_AGE = timedelta(days=366)
MAX_NOTES = 1000
MAX_NAME = 50
# The household PIN (家庭确认码) printed on the care-plan letter (护理计划告知书).
PIN_LENGTH = 6
PIN_PATTERN = re.compile(rf"[0-9]{{{PIN_LENGTH}}}")
# Wrong PINs per beneficiary per civil day before the PIN is locked until the next day.
MAX_WRONG_PINS = 5
NO_CONFIRMATION = (f"请由家属在手机上签名，或填写家属的{PIN_LENGTH}位家庭确认码"
                   "（印在医保部门发给家属的《护理计划告知书》上）")
PIN_SHAPE = f"家庭确认码为{PIN_LENGTH}位数字，请按《护理计划告知书》上的确认码填写"
NO_PIN_ISSUED = ("该受益人的家庭确认码尚未发放（护理计划确认后由医保部门出具"
                 "《护理计划告知书》），请改由家属在手机上签名确认")
PIN_NOT_IN_FORCE = ("该受益人现行的护理计划不由本机构提供上门服务，不能使用家庭确认码；"
                    "请改由家属在手机上签名确认")
PIN_LOCKED = (f"该受益人的家庭确认码今天已输错{MAX_WRONG_PINS}次，已锁定至明天0时；"
              "今天请改由家属在手机上签名确认")


def pin_locked(wrong_today: int) -> bool:
    """Whether the beneficiary's PIN is locked for the rest of the day."""
    return wrong_today >= MAX_WRONG_PINS


def wrong_pin_message(wrong_today: int) -> str:
    """What to say after a wrong PIN, `wrong_today` counting it."""
    if pin_locked(wrong_today):
        return PIN_LOCKED
    left = MAX_WRONG_PINS - wrong_today
    return (f"家庭确认码不正确，请家属核对《护理计划告知书》上的确认码；今天还可再试{left}次，"
            "也可改由家属在手机上签名确认")

SERVICE_TYPES = {"home_visit": "居家上门护理"}
NURSE = "nurse"
QUALIFICATIONS = {"nurse": "护士", "care_worker": "护理员"}


class Review(StrEnum):
    accepted = "accepted"
    flagged = "flagged"
    accepted_after_review = "accepted_after_review"
    rejected = "rejected"

    @property
    def label(self) -> str:
        return REVIEW_LABELS[self]


REVIEW_LABELS = {
    Review.accepted: "自动通过",
    Review.flagged: "待审核",
    Review.accepted_after_review: "审核通过",
    Review.rejected: "审核不通过",
}
# Visits that count towards the month's quota and as a staff member's time (a flagged one
# may still be accepted, so it holds its place).
COUNTED = (Review.accepted, Review.flagged, Review.accepted_after_review)
# Visits that are done: progress (本月完成) counts only these; flagged ones are shown apart
# as waiting for review, never as done.
ACCEPTED = (Review.accepted, Review.accepted_after_review)
DECISIONS = {"accept": Review.accepted_after_review, "reject": Review.rejected}
# A reviewer may overturn an accepted visit (after a spot check), with a reason.
OVERTURNABLE = ACCEPTED
# Only visits no person has judged yet may be corrected: a reviewer's decision stands.
REVISABLE = (Review.accepted, Review.flagged)


def progress(counts: Mapping[str, int]) -> tuple[int, int]:
    """(done, pending) from a month's visit counts by review state (superseded ones left
    out): done are the accepted ones, pending the flagged ones waiting for a reviewer;
    rejected ones are neither."""
    return (sum(counts.get(str(r), 0) for r in ACCEPTED), counts.get(str(Review.flagged), 0))


def initial_review(flags: Collection[Flag]) -> Review:
    return Review.flagged if flags else Review.accepted


# Why a record was corrected (a revision is a new record; the original stays visible).
REVISION_REASONS = {
    "wrong_time": "时间填写错误",
    "wrong_items": "项目填写错误",
    "missing_confirmation": "家属确认缺失或有误",
    "other": "其他原因",
}


class FlagCode(StrEnum):
    overlap = "overlap"
    inactive_day = "inactive_day"
    outside_plan = "outside_plan"
    required_missing = "required_missing"
    too_short = "too_short"
    over_quota = "over_quota"
    no_agreement = "no_agreement"
    nurse_only = "nurse_only"
    far_from_home = "far_from_home"
    late_entry = "late_entry"
    # Only for a visit recorded on a device while offline (ltc.visits.logging): what would
    # refuse it today may have changed after it was done, so it is logged for review.
    provider_inactive = "provider_inactive"
    plan_changed = "plan_changed"
    pin_unchecked = "pin_unchecked"
    # Raised after logging by someone outside the provider (ltc.visits.review.raise_concern);
    # a correction by the provider carries them over, so it cannot wash them out.
    family_dispute = "family_dispute"
    return_visit_denied = "return_visit_denied"

    @property
    def label(self) -> str:
        return FLAG_LABELS[self]


FLAG_LABELS = {
    FlagCode.overlap: "服务时间重叠",
    FlagCode.inactive_day: "非待遇享受日",
    FlagCode.outside_plan: "项目不在护理计划内",
    FlagCode.required_missing: "必做项目未完成",
    FlagCode.too_short: "服务时长不足",
    FlagCode.over_quota: "超出每月上门次数",
    FlagCode.no_agreement: "无有效协议",
    FlagCode.nurse_only: "护士专项由非护士操作",
    FlagCode.far_from_home: "签到位置远离住址",
    FlagCode.late_entry: "补录",
    FlagCode.provider_inactive: "机构已暂停或退出",
    FlagCode.plan_changed: "护理计划已改由其他机构",
    FlagCode.pin_unchecked: "家庭确认码未能核对",
    FlagCode.family_dispute: "家属异议",
    FlagCode.return_visit_denied: "回访否认",
}
RAISED_LATER = frozenset({FlagCode.family_dispute, FlagCode.return_visit_denied})
# A concern may reopen a visit nobody has rejected yet: an accepted one goes back to review.
CONCERN_REOPENS = (Review.accepted, Review.accepted_after_review, Review.flagged)


@dataclass(frozen=True)
class Flag:
    code: FlagCode
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


# --- what a visit must say -------------------------------------------------------------------

Point = tuple[float, float]  # (latitude, longitude) in degrees, WGS 84


@dataclass(frozen=True)
class VisitInput:
    """A visit as submitted, typed; None where nothing usable was given."""

    started_at: datetime | None
    ended_at: datetime | None
    items: tuple[str, ...]
    family_confirmed_by: str = ""
    confirmation_code: str = ""
    has_signature: bool = False
    service_type: str = "home_visit"
    notes: str = ""
    checkin: tuple[float | None, float | None] = (None, None)
    checkout: tuple[float | None, float | None] = (None, None)


def input_problems(visit: VisitInput, now: datetime,
                   known_items: Collection[str]) -> dict[str, str]:
    """Every reason the visit cannot be recorded, by field, in words that say what to do."""
    problems: dict[str, str] = {}
    start, end = visit.started_at, visit.ended_at
    for name, value, what in (("started_at", start, "开始"), ("ended_at", end, "结束")):
        if value is None:
            problems[name] = f"请填写服务{what}时间"
        elif value.tzinfo is None or value.utcoffset() is None:
            problems[name] = f"服务{what}时间须带时区，如 2026-11-10T09:00:00+08:00"
    if "started_at" not in problems and "ended_at" not in problems:
        assert start is not None and end is not None
        if end <= start:
            problems["ended_at"] = "结束时间应晚于开始时间"
        elif end - start > timedelta(hours=MAX_VISIT_HOURS):
            problems["ended_at"] = (f"一次服务不应超过{MAX_VISIT_HOURS}小时，"
                                    "请核对日期和上午/下午")
        elif end > now + CLOCK_TOLERANCE:
            problems["ended_at"] = "结束时间不能晚于现在：请在服务结束后再登记"
        elif start < now - MAX_AGE:
            problems["started_at"] = "只能登记一年以内的服务，请核对年份"
    if visit.service_type not in SERVICE_TYPES:
        problems["service_type"] = "服务类型应为：" + "、".join(
            f"{code}（{label}）" for code, label in SERVICE_TYPES.items())
    if not visit.items:
        problems["items"] = "请勾选本次完成的护理项目"
    else:
        unknown = [code for code in visit.items if code not in known_items]
        if unknown:
            problems["items"] = "以下项目编号不在护理项目目录中：" + "、".join(unknown)
    name = visit.family_confirmed_by.strip()
    if not name:
        problems["family_confirmed_by"] = "请填写确认服务的家属姓名"
    elif len(name) > MAX_NAME:
        problems["family_confirmed_by"] = f"家属姓名不超过{MAX_NAME}个字"
    code = visit.confirmation_code.strip()
    if not code and not visit.has_signature:
        problems["confirmation_code"] = NO_CONFIRMATION
    elif code and not PIN_PATTERN.fullmatch(code):
        problems["confirmation_code"] = PIN_SHAPE
    if len(visit.notes) > MAX_NOTES:
        problems["notes"] = f"备注不超过{MAX_NOTES}个字"
    for prefix, what, point in (("checkin", "签到", visit.checkin),
                                ("checkout", "签退", visit.checkout)):
        problems.update(_point_problems(prefix, what, point))
    return problems


def _point_problems(prefix: str, what: str,
                    point: tuple[float | None, float | None]) -> dict[str, str]:
    latitude, longitude = point
    if latitude is None and longitude is None:
        return {}
    problems = {}
    if latitude is None or longitude is None:
        missing = f"{prefix}_latitude" if latitude is None else f"{prefix}_longitude"
        problems[missing] = f"{what}位置须同时提供纬度和经度，或都不提供"
    if latitude is not None and not -90 <= latitude <= 90:
        problems[f"{prefix}_latitude"] = f"{what}纬度应在 -90 到 90 之间"
    if longitude is not None and not -180 <= longitude <= 180:
        problems[f"{prefix}_longitude"] = f"{what}经度应在 -180 到 180 之间"
    return problems


def revision_problems(reason_code: str, note: str) -> dict[str, str]:
    problems = {}
    if reason_code not in REVISION_REASONS:
        problems["reason_code"] = "请选择更正原因"
    if reason_code == "other" and not note.strip():
        problems["revision_note"] = "选择“其他原因”时请说明更正了什么、为什么"
    if len(note) > MAX_NOTES:
        problems["revision_note"] = f"更正说明不超过{MAX_NOTES}个字"
    return problems


# --- the automatic flags ---------------------------------------------------------------------

@dataclass(frozen=True)
class OtherVisit:
    """Another counted visit by the same staff member."""

    id: int
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True)
class VisitFacts:
    """Everything the flag rules need about one visit, gathered by the service."""

    day: date  # the civil date of started_at
    started_at: datetime
    ended_at: datetime
    items: tuple[str, ...]
    item_names: Mapping[str, str]  # code → 中文名, for the reasons
    nurse_only_items: frozenset[str]
    # The care plan version in force that day: None when there is none.
    plan_items: tuple[str, ...] | None
    required_items: tuple[str, ...]
    quota: int  # visits per month (the plan's, else the policy's for the grade)
    month_visits: int  # other counted visits of the beneficiary in the visit's month
    min_minutes: int  # the policy's minimum visit length
    entitlement: EntitlementFacts | None
    hospital_stays: tuple[Interval, ...] = ()
    deceased_on: date | None = None
    staff_name: str = ""
    staff_agreement: bool = False
    staff_qualification: str | None = None  # nurse | care_worker, from the staff agreement
    provider_name: str = ""
    provider_agreement: bool = False
    same_staff_visits: tuple[OtherVisit, ...] = ()
    checkin: Point | None = None
    home: Point | None = None
    far_metres: int = FAR_FROM_HOME_METRES
    logged_at: datetime | None = None  # when the visit was first recorded (None: now)
    late_entry_hours: int = 48  # the policy's: logged later than this after the end is 补录
    # When a device recorded the visit while offline (None: sent as it was recorded).
    recorded_on_device: datetime | None = None
    provider_status: str = ""  # the provider's register status label when it is not active
    plan_elsewhere: bool = False  # that day's plan names another provider
    # The household PIN could not be checked: the plan in force now is another provider's.
    pin_unchecked: bool = False


def flags_for(facts: VisitFacts) -> list[Flag]:
    """The visit's flags, in a fixed order; an empty list means it is accepted."""
    flags = []
    for code, rule in RULES.items():
        message = rule(facts)
        if message:
            flags.append(Flag(code, message))
    return flags


def _names(facts: VisitFacts, codes: Collection[str]) -> str:
    return "、".join(f"{facts.item_names.get(c, c)}（{c}）" for c in codes)


def _time(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%H:%M")


def _overlap(facts: VisitFacts) -> str | None:
    clashes = [v for v in facts.same_staff_visits
               if v.started_at < facts.ended_at and facts.started_at < v.ended_at]
    if not clashes:
        return None
    listed = "；".join(
        f"{v.started_at.astimezone(CHINA):%Y-%m-%d} {_time(v.started_at)}–{_time(v.ended_at)}"
        f"（记录 {v.id}）" for v in sorted(clashes, key=lambda v: v.started_at))
    who = facts.staff_name or "该服务人员"
    return f"{who}在同一时间还有其他服务记录：{listed}。同一人不能同时在两处服务，请核实"


def inactive_reason(facts: VisitFacts) -> str | None:
    """Why the visit's day is not a day of benefit, or None when it is."""
    day, held = facts.day, facts.entitlement
    if held is None:
        return f"受益人在 {day.isoformat()} 没有待遇资格"
    if day < held.starts_on:
        return f"待遇自 {held.starts_on.isoformat()} 起享受，服务日期 {day.isoformat()} 尚未开始"
    if facts.deceased_on is not None and day > facts.deceased_on:
        return f"受益人已于 {facts.deceased_on.isoformat()} 死亡，待遇已终止"
    state = state_on(held, day)
    if state == EntitlementState.ENDED:
        return (f"待遇资格已于 {held.last_day.isoformat()} 终止，"
                f"服务日期 {day.isoformat()} 不在享受期内")
    if any(stay.covers(day) for stay in facts.hospital_stays):
        return f"受益人在 {day.isoformat()} 住院，住院期间待遇暂停，居家上门服务不予支付"
    if state == EntitlementState.SUSPENDED:
        return f"待遇资格在 {day.isoformat()} 处于暂停状态"
    return None


def _outside_plan(facts: VisitFacts) -> str | None:
    if facts.plan_items is None:
        return f"{facts.day.isoformat()} 没有生效的护理计划，本次所有项目均不在计划内"
    outside = [c for c in facts.items if c not in facts.plan_items]
    if not outside:
        return None
    return f"以下项目不在当天生效的护理计划内：{_names(facts, outside)}"


def _required_missing(facts: VisitFacts) -> str | None:
    missing = [c for c in facts.required_items if c not in facts.items]
    if not missing:
        return None
    return f"护理计划的必做项目本次未完成：{_names(facts, missing)}"


def minutes(facts: VisitFacts) -> int:
    return int((facts.ended_at - facts.started_at).total_seconds() // 60)


def _too_short(facts: VisitFacts) -> str | None:
    if minutes(facts) >= facts.min_minutes:
        return None
    return f"服务时长 {minutes(facts)} 分钟，短于政策规定的最短时长 {facts.min_minutes} 分钟"


def _over_quota(facts: VisitFacts) -> str | None:
    if facts.month_visits < facts.quota:
        return None
    return (f"{facts.day.year}年{facts.day.month}月已有 {facts.month_visits} 次有效或待审核的"
            f"上门服务，已达每月 {facts.quota} 次的限额，本次超出")


def _no_agreement(facts: VisitFacts) -> str | None:
    missing, day = [], facts.day.isoformat()
    if not facts.staff_agreement:
        missing.append(f"服务人员{facts.staff_name}没有覆盖 {day} 的有效服务人员协议")
    if not facts.provider_agreement:
        missing.append(f"护理机构{facts.provider_name}没有覆盖 {day} 的有效服务协议")
    return "；".join(missing) or None


def _nurse_only(facts: VisitFacts) -> str | None:
    done = [c for c in facts.items if c in facts.nurse_only_items]
    if not done or facts.staff_qualification == NURSE:
        return None
    held = QUALIFICATIONS.get(facts.staff_qualification or "", "无有效协议，资质未知")
    return (f"以下项目仅限护士操作，服务人员{facts.staff_name}的资质为{held}："
            f"{_names(facts, done)}")


def distance_metres(a: Point, b: Point) -> float:
    """The great-circle (haversine) distance between two WGS 84 points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


def _far_from_home(facts: VisitFacts) -> str | None:
    if facts.checkin is None or facts.home is None:
        return None
    metres = distance_metres(facts.checkin, facts.home)
    if metres <= facts.far_metres:
        return None
    shown = f"{metres / 1000:.1f} 公里" if metres >= 1000 else f"{metres:.0f} 米"
    return f"签到位置距受益人登记住址约 {shown}，超过 {facts.far_metres} 米，请核实服务地点"


def changes_service(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a correction changes what the family confirmed: the times or the items. Such
    a correction is a new claim: logged now (补录 judged from now against its new end) and
    confirmed by the family afresh; any other keeps its original's logging time."""
    return (before["started_at"] != after["started_at"]
            or before["ended_at"] != after["ended_at"]
            or set(before["items"]) != set(after["items"]))


def late_entry(ended_at: datetime, logged_at: datetime, hours: int) -> bool:
    """Logged more than `hours` after the visit ended (exactly `hours` is still in time)."""
    return logged_at - ended_at > timedelta(hours=hours)


def _late_entry(facts: VisitFacts) -> str | None:
    if facts.logged_at is None or not late_entry(facts.ended_at, facts.logged_at,
                                                 facts.late_entry_hours):
        return None
    delay = facts.logged_at - facts.ended_at
    days, rest = divmod(int(delay.total_seconds() // 3600), 24)
    shown = f"{days}天{rest}小时" if days else f"{rest}小时"
    return (f"服务于 {facts.ended_at.astimezone(CHINA):%Y-%m-%d %H:%M} 结束，"
            f"{shown}后才登记，超过政策规定的{facts.late_entry_hours}小时登记时限，"
            "属补录，须经审核")


def _offline(facts: VisitFacts, what: str) -> str:
    recorded = facts.recorded_on_device
    when = f"{recorded.astimezone(CHINA):%Y-%m-%d %H:%M}" if recorded else "离线时"
    return f"{what}；该记录于 {when} 在设备上离线登记，联网后才上传，请审核确认"


def _provider_inactive(facts: VisitFacts) -> str | None:
    if not facts.provider_status:
        return None
    return _offline(facts, f"{facts.provider_name or '本机构'}在定点机构登记中的状态为"
                           f"“{facts.provider_status}”")


def _plan_changed(facts: VisitFacts) -> str | None:
    if not facts.plan_elsewhere:
        return None
    return _offline(facts, f"{facts.day.isoformat()} 生效的护理计划已改由其他机构服务")


def _pin_unchecked(facts: VisitFacts) -> str | None:
    if not facts.pin_unchecked:
        return None
    return _offline(facts, "家属填写的家庭确认码未能核对：受益人现行的护理计划已改由其他机构服务，"
                           "确认码随之更换")


RULES = {
    FlagCode.overlap: _overlap,
    FlagCode.inactive_day: inactive_reason,
    FlagCode.outside_plan: _outside_plan,
    FlagCode.required_missing: _required_missing,
    FlagCode.too_short: _too_short,
    FlagCode.over_quota: _over_quota,
    FlagCode.no_agreement: _no_agreement,
    FlagCode.nurse_only: _nurse_only,
    FlagCode.far_from_home: _far_from_home,
    FlagCode.late_entry: _late_entry,
    FlagCode.provider_inactive: _provider_inactive,
    FlagCode.plan_changed: _plan_changed,
    FlagCode.pin_unchecked: _pin_unchecked,
}


# --- visits due this month -------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    due: int  # the month's quota
    done: int  # counted visits so far
    expected_by_now: int  # the pro-rata share of the days already past
    overdue: bool
    due_today: bool  # not overdue, but one falls due by the end of today

    @property
    def remaining(self) -> int:
        return max(self.due - self.done, 0)


def due_on(quota: int, done: int, today: date, *, month_days: int,
           from_day: int = 1) -> Due:
    """Whether a beneficiary's visits are on schedule.

    The month's `quota` visits are spread evenly over the days the plan covers this month
    (from `from_day`, e.g. a plan starting on the 15th, to the month's end): visit k of n
    falls due by the end of day from_day − 1 + ⌈k × days ⁄ n⌉. Visits are overdue when fewer
    are done than fell due on the days already past (today itself still counts as time to
    do one): with 2 a month in a 30-day month, the first is overdue from the 16th, the
    second on the 1st of next month — so on the month's last day a missing visit shows as
    due today, never silently."""
    days = month_days - from_day + 1
    if today.day < from_day or days <= 0:
        return Due(due=quota, done=done, expected_by_now=0, overdue=False, due_today=False)
    past = today.day - from_day  # whole days of the window already gone
    expected = quota * past // days
    by_tonight = quota * (past + 1) // days
    overdue = done < expected
    return Due(due=quota, done=done, expected_by_now=expected, overdue=overdue,
               due_today=not overdue and done < by_tonight)
