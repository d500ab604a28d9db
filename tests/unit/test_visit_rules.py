"""The visit rules, table by table: one row per flag rule (and per way it can trip), a visit
that trips none, what a submitted visit must say, the distance, and the month's pace."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from ltc.clock import CHINA
from ltc.entitlements.rules import EntitlementFacts, Interval
from ltc.visits import rules
from ltc.visits.rules import (
    FAR_FROM_HOME_METRES,
    FlagCode,
    OtherVisit,
    Review,
    VisitFacts,
    VisitInput,
    distance_metres,
    due_on,
    flags_for,
    input_problems,
    revision_problems,
)

DAY = date(2026, 12, 10)
START = datetime(2026, 12, 10, 9, 0, tzinfo=CHINA)
END = START + timedelta(minutes=45)
REQUIRED = ("B01", "B04", "B08")
PLAN = (*REQUIRED, "B02", "C05")
NAMES = {"B01": "头面部清洁、梳理", "B02": "洗发", "B04": "手、足部清洁", "B08": "口腔清洁",
         "C05": "生命体征监测", "C09": "灌肠"}
HOME = (36.1840, 116.7640)  # 新城街道, 肥城

CLEAN = VisitFacts(
    day=DAY, started_at=START, ended_at=END, items=(*REQUIRED, "B02"), item_names=NAMES,
    nurse_only_items=frozenset({"C05", "C09"}), plan_items=PLAN, required_items=REQUIRED,
    quota=4, month_visits=1, min_minutes=30,
    entitlement=EntitlementFacts(starts_on=date(2026, 12, 1), expires_on=date(2028, 11, 30)),
    staff_name="王护士", staff_agreement=True, staff_qualification="care_worker",
    provider_name="新城卫生院", provider_agreement=True,
    same_staff_visits=(OtherVisit(7, START - timedelta(hours=2), START - timedelta(hours=1)),
                       OtherVisit(8, END, END + timedelta(hours=1))),  # back to back: fine
    checkin=(36.1860, 116.7650), home=HOME)  # ~240 m away


def test_a_visit_that_trips_no_rule_has_no_flags_and_is_accepted() -> None:
    assert flags_for(CLEAN) == []
    assert rules.initial_review(flags_for(CLEAN)) == Review.accepted


HOSPITAL = Interval(date(2026, 12, 5), date(2026, 12, 20))

# (what, changes to the clean visit, the flag it trips, words its reason must contain)
FLAG_ROWS = [
    ("overlap", {"same_staff_visits": (OtherVisit(9, START + timedelta(minutes=30),
                                                  END + timedelta(minutes=30)),)},
     FlagCode.overlap, ["王护士", "记录 9", "09:30"]),
    ("overlap, inside another", {"same_staff_visits": (OtherVisit(
        3, START - timedelta(hours=1), END + timedelta(hours=1)),)}, FlagCode.overlap,
     ["记录 3"]),
    ("not started", {"entitlement": EntitlementFacts(date(2027, 1, 1), date(2028, 12, 31))},
     FlagCode.inactive_day, ["2027-01-01 起享受", "尚未开始"]),
    ("no entitlement", {"entitlement": None}, FlagCode.inactive_day, ["没有待遇资格"]),
    ("hospital", {"entitlement": replace(CLEAN.entitlement, suspensions=(HOSPITAL,)),
                  "hospital_stays": (HOSPITAL,)}, FlagCode.inactive_day, ["住院"]),
    ("suspended", {"entitlement": replace(CLEAN.entitlement, suspensions=(
        Interval(date(2026, 12, 8)),))}, FlagCode.inactive_day, ["暂停"]),
    ("ended", {"entitlement": replace(CLEAN.entitlement, ends_on=date(2026, 12, 9))},
     FlagCode.inactive_day, ["2026-12-09 终止"]),
    ("dead", {"entitlement": replace(CLEAN.entitlement, ends_on=date(2026, 12, 3)),
              "deceased_on": date(2026, 12, 3)}, FlagCode.inactive_day, ["2026-12-03 死亡"]),
    ("outside plan", {"items": (*REQUIRED, "B06")}, FlagCode.outside_plan, ["B06"]),
    ("no plan that day", {"plan_items": None, "required_items": ()}, FlagCode.outside_plan,
     ["没有生效的护理计划"]),
    ("required missing", {"items": ("B01", "B02")}, FlagCode.required_missing,
     ["手、足部清洁（B04）", "口腔清洁（B08）"]),
    ("too short", {"ended_at": START + timedelta(minutes=29)}, FlagCode.too_short,
     ["29 分钟", "30 分钟"]),
    ("over quota", {"month_visits": 4}, FlagCode.over_quota, ["已有 4 次", "4 次的限额"]),
    ("no staff agreement", {"staff_agreement": False}, FlagCode.no_agreement,
     ["服务人员王护士"]),
    ("no provider agreement", {"provider_agreement": False}, FlagCode.no_agreement,
     ["护理机构新城卫生院"]),
    ("nurse only by a care worker", {"items": (*REQUIRED, "C05")}, FlagCode.nurse_only,
     ["护理员", "生命体征监测（C05）"]),
    ("nurse only, qualification unknown", {"items": (*REQUIRED, "C05"),
                                           "staff_qualification": None},
     FlagCode.nurse_only, ["资质未知"]),
    ("far from home", {"checkin": (36.2000, 116.7640)}, FlagCode.far_from_home,
     ["1.8 公里", f"{FAR_FROM_HOME_METRES} 米"]),
    ("logged 14 days late", {"logged_at": END + timedelta(days=14)}, FlagCode.late_entry,
     ["14天0小时后才登记", "48小时", "补录"]),
    ("logged 48 h 1 min late", {"logged_at": END + timedelta(hours=48, minutes=1)},
     FlagCode.late_entry, ["2天0小时", "2026-12-10 09:45"]),
    ("a shorter policy delay", {"logged_at": END + timedelta(hours=25),
                                "late_entry_hours": 24}, FlagCode.late_entry, ["24小时"]),
    ("recorded offline, provider suspended since",
     {"provider_status": "暂停", "recorded_on_device": END + timedelta(minutes=5)},
     FlagCode.provider_inactive, ["“暂停”", "2026-12-10 09:50", "离线登记"]),
    ("recorded offline, plan moved to another provider since",
     {"plan_elsewhere": True, "recorded_on_device": END + timedelta(minutes=5)},
     FlagCode.plan_changed, ["2026-12-10 生效的护理计划已改由其他机构", "离线登记"]),
    ("recorded offline, the PIN went with the plan since",
     {"pin_unchecked": True, "recorded_on_device": END + timedelta(minutes=5)},
     FlagCode.pin_unchecked, ["家庭确认码未能核对", "2026-12-10 09:50"]),
]


# (what, logged this long after the visit ended, the policy's hours, flagged 补录)
LATE_ROWS = [
    ("at once", timedelta(0), 48, False),
    ("next day", timedelta(hours=20), 48, False),
    ("exactly 48 h", timedelta(hours=48), 48, False),
    ("48 h and 1 min", timedelta(hours=48, minutes=1), 48, True),
    ("48 h and 1 s", timedelta(hours=48, seconds=1), 48, True),
    ("14 days", timedelta(days=14), 48, True),
    ("exactly 24 h, policy 24", timedelta(hours=24), 24, False),
    ("24 h 1 min, policy 24", timedelta(hours=24, minutes=1), 24, True),
]


@pytest.mark.parametrize(("delay", "hours", "late"), [row[1:] for row in LATE_ROWS],
                         ids=[row[0] for row in LATE_ROWS])
def test_late_entry_edge(delay, hours, late) -> None:
    assert rules.late_entry(END, END + delay, hours) is late
    facts = replace(CLEAN, logged_at=END + delay, late_entry_hours=hours)
    assert [f.code for f in flags_for(facts)] == ([FlagCode.late_entry] if late else [])
    assert rules.initial_review(flags_for(facts)) == (
        Review.flagged if late else Review.accepted)


# (what, wrong PINs today after this one, locked, words the message has)
PIN_ROWS = [
    ("first wrong", 1, False, ["不正确", "还可再试4次", "签名"]),
    ("fourth wrong", 4, False, ["还可再试1次"]),
    ("fifth wrong locks", 5, True, ["已输错5次", "锁定至明天0时", "签名"]),
    ("after the lock", 6, True, ["锁定至明天0时"]),
]


@pytest.mark.parametrize(("wrong", "locked", "words"), [row[1:] for row in PIN_ROWS],
                         ids=[row[0] for row in PIN_ROWS])
def test_wrong_pins_lock_the_day(wrong, locked, words) -> None:
    assert rules.pin_locked(wrong) is locked
    message = rules.wrong_pin_message(wrong)
    for word in words:
        assert word in message
    assert not rules.pin_locked(wrong - 1) or wrong - 1 >= rules.MAX_WRONG_PINS


# (what, the month's visits by review state, done, pending)
PROGRESS_ROWS = [
    ("none", {}, 0, 0),
    ("accepted automatically", {"accepted": 2}, 2, 0),
    ("a flagged one is not done", {"accepted": 1, "flagged": 1}, 1, 1),
    ("accepted after review", {"accepted": 1, "accepted_after_review": 2}, 3, 0),
    ("rejected: neither", {"accepted": 1, "rejected": 2}, 1, 0),
    ("all four", {"accepted": 2, "flagged": 3, "accepted_after_review": 1, "rejected": 1},
     3, 3),
]


@pytest.mark.parametrize(("counts", "done", "pending"), [r[1:] for r in PROGRESS_ROWS],
                         ids=[r[0] for r in PROGRESS_ROWS])
def test_progress_is_accepted_visits_with_pending_apart(counts, done, pending) -> None:
    assert rules.progress(counts) == (done, pending)


def test_progress_counts_accepted_visits_only() -> None:
    # Flagged visits hold a place in the quota but are not done until a reviewer accepts.
    assert set(rules.ACCEPTED) == {Review.accepted, Review.accepted_after_review}
    assert Review.flagged in rules.COUNTED and Review.flagged not in rules.ACCEPTED
    assert Review.rejected not in rules.COUNTED
    assert set(rules.OVERTURNABLE) == set(rules.ACCEPTED)


@pytest.mark.parametrize(("changes", "code", "words"), [row[1:] for row in FLAG_ROWS],
                         ids=[row[0] for row in FLAG_ROWS])
def test_each_rule_trips_alone_with_a_reason(changes, code, words) -> None:
    flags = flags_for(replace(CLEAN, **changes))
    assert [f.code for f in flags] == [code]
    for word in words:
        assert word in flags[0].message, (word, flags[0].message)
    assert flags[0].as_dict() == {"code": str(code), "message": flags[0].message}
    assert rules.initial_review(flags) == Review.flagged


@pytest.mark.parametrize("changes", [
    {"ended_at": START + timedelta(minutes=30)},  # exactly the minimum
    {"month_visits": 3},  # the fourth of four
    {"items": (*REQUIRED, "C05"), "staff_qualification": "nurse"},
    {"checkin": None},
    {"home": None},
    {"checkin": (36.1840 + 0.0044, 116.7640)},  # ~490 m
    {"entitlement": replace(CLEAN.entitlement, ends_on=DAY), "deceased_on": DAY},  # death day
    {"entitlement": replace(CLEAN.entitlement, suspensions=(Interval(date(2026, 12, 1),
                                                                      DAY),)),
     "hospital_stays": (Interval(date(2026, 12, 1), DAY),)},  # discharged that day
    {"hospital_stays": (Interval(None, date(2026, 12, 20)),)},  # admission not yet known
    {"recorded_on_device": END + timedelta(days=1)},  # offline, nothing changed meanwhile
], ids=["minimum", "last of quota", "nurse", "no checkin", "no home", "within 500 m",
        "day of death", "discharge day", "discharge only", "offline unchanged"])
def test_the_edges_that_do_not_trip(changes) -> None:
    assert flags_for(replace(CLEAN, **changes)) == []


def test_several_flags_come_in_a_fixed_order() -> None:
    facts = replace(CLEAN, items=("B06",), ended_at=START + timedelta(minutes=10),
                    staff_agreement=False, month_visits=9)
    assert [f.code for f in flags_for(facts)] == [
        FlagCode.outside_plan, FlagCode.required_missing, FlagCode.too_short,
        FlagCode.over_quota, FlagCode.no_agreement]
    both = flags_for(replace(CLEAN, staff_agreement=False, provider_agreement=False))
    assert len(both) == 1 and "；" in both[0].message


def test_every_flag_code_has_a_rule_or_is_raised_later_and_has_a_label() -> None:
    """Every flag is either computed at logging (a rule) or raised later by someone outside
    the provider (ltc.visits.review.raise_concern), never both."""
    assert set(rules.RULES) | rules.RAISED_LATER == set(FlagCode) == set(rules.FLAG_LABELS)
    assert not set(rules.RULES) & rules.RAISED_LATER
    assert {row[2] for row in FLAG_ROWS} == set(rules.RULES)


def test_review_states_and_labels() -> None:
    assert {r.label for r in Review} == {"自动通过", "待审核", "审核通过", "审核不通过"}
    assert rules.DECISIONS == {"accept": Review.accepted_after_review,
                               "reject": Review.rejected}
    assert Review.rejected not in rules.COUNTED
    assert set(rules.REVISABLE) == {Review.accepted, Review.flagged}


def test_distance_is_haversine() -> None:
    assert distance_metres(HOME, HOME) == 0
    # One degree of latitude is about 111.2 km anywhere.
    assert distance_metres((36.0, 116.0), (37.0, 116.0)) == pytest.approx(111_195, rel=1e-3)
    # Beijing Tiananmen → Shanghai People's Square: about 1,067 km.
    assert distance_metres((39.9087, 116.3975), (31.2304, 121.4737)) == pytest.approx(
        1_067_000, rel=0.01)


# --- what a submitted visit must say ---------------------------------------------------------

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=CHINA)
KNOWN = {"B01", "B02", "B04", "B08"}
GOOD = VisitInput(started_at=START, ended_at=END, items=("B01",), family_confirmed_by="李明",
                  confirmation_code="048213")


def test_a_complete_visit_has_no_problems() -> None:
    assert input_problems(GOOD, NOW, KNOWN) == {}
    assert input_problems(replace(GOOD, confirmation_code="", has_signature=True), NOW,
                          KNOWN) == {}
    assert input_problems(replace(GOOD, ended_at=NOW + timedelta(minutes=4)), NOW, KNOWN) == {}
    assert input_problems(replace(GOOD, checkin=(36.1, 116.7), checkout=(-90.0, 180.0)), NOW,
                          KNOWN) == {}


INPUT_ROWS = [
    ("no start", {"started_at": None}, {"started_at": "请填写服务开始时间"}),
    ("no end", {"ended_at": None}, {"ended_at": "请填写服务结束时间"}),
    ("naive", {"started_at": datetime(2026, 12, 10, 9, 0)}, {"started_at": "须带时区"}),
    ("end before start", {"ended_at": START - timedelta(minutes=1)},
     {"ended_at": "应晚于开始时间"}),
    ("end equals start", {"ended_at": START}, {"ended_at": "应晚于开始时间"}),
    ("too long", {"ended_at": START + timedelta(hours=12, minutes=1)},
     {"ended_at": "不应超过12小时"}),
    ("future", {"started_at": NOW, "ended_at": NOW + timedelta(minutes=40)},
     {"ended_at": "不能晚于现在"}),
    ("a year ago", {"started_at": START - timedelta(days=367),
                    "ended_at": START - timedelta(days=367) + timedelta(hours=1)},
     {"started_at": "一年以内"}),
    ("no items", {"items": ()}, {"items": "请勾选"}),
    ("unknown item", {"items": ("B01", "X99", "Z1")}, {"items": "X99、Z1"}),
    ("bad service type", {"service_type": "phone_call"}, {"service_type": "home_visit"}),
    ("no family name", {"family_confirmed_by": "  "}, {"family_confirmed_by": "家属姓名"}),
    ("long family name", {"family_confirmed_by": "李" * 51}, {"family_confirmed_by": "50"}),
    ("no PIN nor signature", {"confirmation_code": ""},
     {"confirmation_code": "护理计划告知书"}),
    ("PIN with a space", {"confirmation_code": "048 213"}, {"confirmation_code": "6位数字"}),
    ("PIN too short", {"confirmation_code": "4821"}, {"confirmation_code": "6位数字"}),
    ("PIN too long", {"confirmation_code": "0482130"}, {"confirmation_code": "6位数字"}),
    ("PIN with letters", {"confirmation_code": "04821a"}, {"confirmation_code": "6位数字"}),
    ("a bad PIN is refused even with a signature",
     {"confirmation_code": "12", "has_signature": True}, {"confirmation_code": "6位数字"}),
    ("long notes", {"notes": "字" * 1001}, {"notes": "1000"}),
    ("latitude only", {"checkin": (36.1, None)}, {"checkin_longitude": "同时提供"}),
    ("latitude out of range", {"checkin": (91.0, 116.7)}, {"checkin_latitude": "-90 到 90"}),
    ("longitude out of range", {"checkout": (36.1, -180.5)},
     {"checkout_longitude": "-180 到 180"}),
]


@pytest.mark.parametrize(("changes", "expected"), [row[1:] for row in INPUT_ROWS],
                         ids=[row[0] for row in INPUT_ROWS])
def test_each_problem_is_named_with_what_to_do(changes, expected) -> None:
    problems = input_problems(replace(GOOD, **changes), NOW, KNOWN)
    assert set(problems) == set(expected), problems
    for field, words in expected.items():
        assert words in problems[field], problems[field]


def test_all_problems_at_once() -> None:
    problems = input_problems(VisitInput(started_at=None, ended_at=None, items=()), NOW, KNOWN)
    assert set(problems) == {"started_at", "ended_at", "items", "family_confirmed_by",
                             "confirmation_code"}
    assert input_problems(replace(GOOD, started_at=datetime(2026, 12, 10, 1, 0, tzinfo=UTC)),
                          NOW, KNOWN) == {}  # any zone will do


def test_revision_reasons() -> None:
    assert set(rules.REVISION_REASONS) == {"wrong_time", "wrong_items", "missing_confirmation",
                                           "other"}
    assert revision_problems("wrong_time", "") == {}
    assert set(revision_problems("", "")) == {"reason_code"}
    assert set(revision_problems("other", " ")) == {"revision_note"}
    assert revision_problems("other", "家属签名补录") == {}
    assert set(revision_problems("wrong_items", "x" * 1001)) == {"revision_note"}


# --- the month's pace ------------------------------------------------------------------------

@pytest.mark.parametrize(("quota", "done", "day", "overdue", "due_today", "expected"), [
    (2, 0, 1, False, False, 0),
    (2, 0, 15, False, True, 0),  # the first of two is due by the 15th of a 30-day month
    (2, 0, 16, True, False, 1),
    (2, 1, 16, False, False, 1),
    (2, 1, 30, False, True, 1),  # the last day: the second is due today, not yet overdue
    (2, 2, 30, False, False, 1),
    (4, 0, 9, True, False, 1),  # 4 a month: due by the 8th, 15th, 23rd, 30th
    (4, 1, 9, False, False, 1),
    (4, 1, 8, False, False, 0),
    (4, 0, 8, False, True, 0),
    (4, 5, 30, False, False, 3),  # more done than due is never overdue
])
def test_due_on(quota, done, day, overdue, due_today, expected) -> None:
    due = due_on(quota, done, date(2026, 11, day), month_days=30)
    assert (due.overdue, due.due_today, due.expected_by_now) == (overdue, due_today, expected)
    assert due.remaining == max(quota - done, 0)


def test_due_on_a_plan_starting_mid_month() -> None:
    # From the 16th of a 30-day month, 2 visits: due by the 23rd and the 30th.
    assert due_on(2, 0, date(2026, 11, 10), month_days=30, from_day=16).overdue is False
    assert due_on(2, 0, date(2026, 11, 23), month_days=30, from_day=16).due_today is True
    assert due_on(2, 0, date(2026, 11, 24), month_days=30, from_day=16).overdue is True


_START = datetime(2026, 12, 14, 9, tzinfo=CHINA)
_BEFORE = {"started_at": _START, "ended_at": _START + timedelta(minutes=45),
           "items": ("B01", "B04")}
# (what the correction changes, whether it changes the service the family confirmed)
CORRECTIONS = [
    ("nothing", {}, False),
    ("the notes", {"notes": "家属在场"}, False),
    ("the items' order", {"items": ("B04", "B01")}, False),
    ("the start", {"started_at": _START + timedelta(minutes=5)}, True),
    ("the end", {"ended_at": _START + timedelta(minutes=50)}, True),
    ("an item more", {"items": ("B01", "B04", "B08")}, True),
    ("an item less", {"items": ("B01",)}, True),
]


@pytest.mark.parametrize(("changes", "changed"), [c[1:] for c in CORRECTIONS],
                         ids=[c[0] for c in CORRECTIONS])
def test_a_correction_changes_the_service_only_by_its_times_or_items(changes, changed) -> None:
    assert rules.changes_service(_BEFORE, {**_BEFORE, **changes}) is changed
