"""The 稽核 rules, pattern by pattern, each at its edge: exactly at the speed, the radius, the
share, the window, the count and the delay is not a finding; one step past it is."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from ltc.clock import CHINA
from ltc.inspections import rules
from ltc.inspections.rules import Rule, Seen, Thresholds
from ltc.visits.rules import EARTH_RADIUS_METRES

LIMITS = Thresholds(speed_kmh=36, same_spot_metres=20, far_metres=500, far_share_percent=50,
                    burst_count=3, burst_minutes=10, burst_hours=48)
HOME = (36.2, 116.76)
T0 = datetime(2026, 12, 10, 9, 0, tzinfo=CHINA)


def north(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return (point[0] + math.degrees(metres / EARTH_RADIUS_METRES), point[1])


def seen(id: int, *, person: int = 1, staff: int = 7, start: datetime = T0, minutes: int = 45,
         checkin: tuple[float, float] | None = HOME, home: tuple[float, float] | None = HOME,
         logged_after: timedelta = timedelta(minutes=1), **kw) -> Seen:
    return Seen(id=id, person=person, provider=3, staff=staff, started_at=start,
                ended_at=start + timedelta(minutes=minutes),
                logged_at=start + timedelta(minutes=minutes) + logged_after, checkin=checkin,
                home=home, **kw)


def test_the_distance_is_in_whole_metres() -> None:
    assert rules.metres(HOME, north(HOME, 10_000)) == 10_000
    assert rules.metres(HOME, HOME) == 0


# --- 1. travel: 36 km/h is 10 km in 1000 s --------------------------------------------------

GAP = timedelta(seconds=1000)


@pytest.mark.parametrize(("apart", "gap", "found"), [
    (10_000, GAP, False),  # exactly at the speed
    (10_001, GAP, True),  # one metre more
    (10_000, GAP + timedelta(seconds=1), False),  # one second more
    (10_000, GAP - timedelta(seconds=1), True),
    (0, timedelta(0), False),  # the next visit in the same home straight after
    (1, timedelta(0), True),  # elsewhere, no time at all
    (1, -timedelta(minutes=5), True),  # overlapping, elsewhere
    (0, -timedelta(minutes=5), False),  # overlapping, same place (flagged as overlap already)
])
def test_travel_at_and_past_the_speed(apart: int, gap: timedelta, found: bool) -> None:
    a = seen(1)
    b = seen(2, person=2, start=a.ended_at + gap, checkin=north(HOME, apart))
    findings = rules.travel([a, b], LIMITS)
    assert bool(findings) is found
    if found:
        (f,) = findings
        assert (f.rule, f.key, f.visit_ids, f.staff) == (Rule.travel, "travel:1,2", (1, 2), 7)
        assert "36 公里/小时" in f.details


def test_travel_needs_both_check_ins_and_looks_at_consecutive_visits_only() -> None:
    a, b = seen(1), seen(2, start=T0 + timedelta(hours=1), checkin=None)
    assert rules.travel([a, b], LIMITS) == []
    far = seen(3, start=T0 + timedelta(hours=2), checkin=north(HOME, 5_000))
    assert rules.travel([a, far], LIMITS) == []  # 5 km in 75 minutes is slow
    c = seen(4, start=far.ended_at + timedelta(minutes=1), checkin=HOME)
    assert [f.visit_ids for f in rules.travel([a, far, c], LIMITS)] == [(3, 4)]


# --- 2. one spot, several homes --------------------------------------------------------------

@pytest.mark.parametrize(("apart", "people", "found"), [
    (20, 2, True),  # exactly at the distance: the same spot
    (21, 2, False),
    (0, 1, False),  # the same home twice
    (0, 3, True),
])
def test_same_spot_for_different_people(apart: int, people: int, found: bool) -> None:
    visits = [seen(n + 1, person=n + 1 if n < people else 1,
                   start=T0 + timedelta(days=n), checkin=north(HOME, apart * (n > 0)))
              for n in range(max(people, 2))]
    findings = rules.same_spot(visits, LIMITS)
    assert bool(findings) is found
    if found:
        assert findings[0].key == "same_spot:1"
        assert set(findings[0].visit_ids) == {v.id for v in visits}


def test_same_spot_groups_are_anchored_at_their_first_visit() -> None:
    elsewhere = north(HOME, 5_000)
    visits = [seen(1, person=1), seen(2, person=1, checkin=elsewhere),
              seen(3, person=2, checkin=elsewhere), seen(4, person=3)]
    found = {f.key: f.visit_ids for f in rules.same_spot(visits, LIMITS)}
    assert found == {"same_spot:1": (1, 4), "same_spot:2": (2, 3)}


# --- 3. far from home, as a share ------------------------------------------------------------

FAR = north(HOME, 501)
AT_RADIUS = north(HOME, 500)


@pytest.mark.parametrize(("checkins", "found"), [
    ([FAR] * 3 + [HOME] * 3, True),  # exactly half
    ([FAR] * 2 + [HOME] * 3, False),  # 40 %
    ([AT_RADIUS] * 6, False),  # exactly at the radius is near
    ([FAR] * 4, False),  # too few visits to speak of a share
    ([FAR] * 5, True),
    ([FAR] * 3 + [HOME] * 3 + [None] * 4, True),  # unknown check-ins are not counted
])
def test_far_share(checkins: list, found: bool) -> None:
    visits = [seen(n + 1, start=T0 + timedelta(days=n), checkin=c)
              for n, c in enumerate(checkins)]
    findings = rules.far_share(visits, LIMITS)
    assert bool(findings) is found
    if found:
        (f,) = findings
        assert f.key == "far_share:7@2026-12"
        assert len(f.visit_ids) == checkins.count(FAR)


def test_far_needs_a_located_home() -> None:
    assert rules.far(seen(1, checkin=FAR, home=None), LIMITS) is None
    assert rules.far(seen(1, checkin=FAR), LIMITS) is True
    assert rules.far(seen(1, checkin=AT_RADIUS), LIMITS) is False


# --- 4. bursts of late entries ---------------------------------------------------------------

LATE = timedelta(hours=48)


def logged_in_a_row(count: int, *, step: timedelta = timedelta(minutes=10),
                    late: timedelta = LATE) -> list[Seen]:
    visits = []
    for n in range(count):
        visit = seen(n + 1, person=n + 1, start=T0 + timedelta(hours=n))
        logged = T0 + timedelta(days=5) + step * n
        visits.append(replace(visit, logged_at=max(logged, visit.ended_at + late)))
    return visits


@pytest.mark.parametrize(("visits", "found"), [
    (logged_in_a_row(3), True),  # exactly the count, exactly the window apart
    (logged_in_a_row(2), False),
    (logged_in_a_row(3, step=timedelta(minutes=10, seconds=1)), False),
    ([replace(v, logged_at=v.ended_at + LATE) for v in logged_in_a_row(3)]
     , False),  # each logged late, but an hour apart: no run
])
def test_bursts(visits: list[Seen], found: bool) -> None:
    findings = rules.burst(visits, LIMITS)
    assert bool(findings) is found
    if found:
        assert findings[0].key == "burst:1" and len(findings[0].visit_ids) == len(visits)


def test_a_burst_counts_only_visits_logged_long_after_they_ended() -> None:
    visits = logged_in_a_row(3)
    assert rules.late(replace(visits[0], logged_at=visits[0].ended_at + LATE), LIMITS)
    assert not rules.late(replace(visits[0], logged_at=visits[0].ended_at + LATE
                                  - timedelta(seconds=1)), LIMITS)
    on_time = replace(visits[1], logged_at=visits[1].ended_at + timedelta(minutes=5),
                      started_at=visits[0].logged_at - timedelta(hours=1),
                      ended_at=visits[0].logged_at - timedelta(minutes=10))
    assert rules.burst([visits[0], on_time, visits[2]], LIMITS) == []


# --- 5. one confirmation, several households -------------------------------------------------

@pytest.mark.parametrize(("visits", "keys"), [
    ([seen(1, person=1, signature="ab" * 32), seen(2, person=2, staff=8, signature="ab" * 32)],
     ["shared_confirmation:sig:" + "ab" * 32 + "@2026-12"]),
    ([seen(1, person=1, signature="ab" * 32), seen(2, person=1, signature="ab" * 32)], []),
    ([seen(1, person=1, confirmer="王 芳"), seen(2, person=2, confirmer="王芳")],
     ["shared_confirmation:name:7:王芳@2026-12"]),
    ([seen(1, person=1, confirmer="王芳"), seen(2, person=2, staff=8, confirmer="王芳")], []),
    ([seen(1, person=1), seen(2, person=2)], []),  # no signature, no name
])
def test_shared_confirmation(visits: list[Seen], keys: list[str]) -> None:
    by_staff: dict[int, list[Seen]] = {}
    for v in visits:
        by_staff.setdefault(v.staff, []).append(v)
    found = rules.shared_signature(visits) + [
        f for group in by_staff.values() for f in rules.shared_confirmer(group)]
    assert [f.key for f in found] == keys
    assert {f.rule for f in found} <= {Rule.shared_confirmation}


def test_a_signature_shared_by_two_staff_members_names_none() -> None:
    (f,) = rules.shared_signature([seen(1, person=1, signature="cd" * 32),
                                   seen(2, person=2, staff=8, signature="cd" * 32)])
    assert f.staff is None and f.visit_ids == (1, 2)


# --- deciding --------------------------------------------------------------------------------

@pytest.mark.parametrize(("decision", "reason", "fields"), [
    ("confirm", "电话回访，家属称未上门", set()),
    ("clear", "同一小区，邻居", set()),
    ("", "理由", {"decision"}),
    ("delete", " ", {"decision", "reason"}),
    ("clear", "字" * 1001, {"reason"}),
    ("clear", "字" * 1000, set()),
])
def test_decision_problems(decision: str, reason: str, fields: set[str]) -> None:
    assert set(rules.decision_problems(decision, reason)) == fields


def test_every_rule_and_state_has_a_chinese_label() -> None:
    assert all(not r.label.isascii() for r in Rule)
    assert all(not s.label.isascii() for s in rules.State)
