"""Entitlement days (SPEC §3): states by day, benefit start, expiry, renewal, the last day an
ending event leaves, and active days over a month. Pure functions, table-driven."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ltc.entitlements.rules import (
    EntitlementFacts,
    EntitlementState,
    Interval,
    active_days,
    benefit_start,
    expiry,
    is_active_day,
    last_day_for_event,
    renewal_due_on,
    state_on,
)

ACTIVE, SUSPENDED, ENDED = (EntitlementState.ACTIVE, EntitlementState.SUSPENDED,
                            EntitlementState.ENDED)
START, EXPIRES = date(2026, 12, 1), date(2028, 11, 30)
PLAIN = EntitlementFacts(starts_on=START, expires_on=EXPIRES)


def facts(*suspensions: Interval, ends_on: date | None = None) -> EntitlementFacts:
    return EntitlementFacts(starts_on=START, expires_on=EXPIRES, ends_on=ends_on,
                            suspensions=tuple(suspensions))


STAY = Interval(date(2027, 3, 10), date(2027, 3, 20))  # admitted 10 March, home on 20 March
OPEN_STAY = Interval(date(2027, 3, 10))
DISCHARGE_ONLY = Interval(None, date(2027, 3, 20))  # the admission has not arrived yet
CLERK_HOLD = Interval(date(2027, 5, 1), date(2027, 6, 1))
DIED = facts(ends_on=last_day_for_event("deceased", date(2027, 8, 15)))
DIED_IN_HOSPITAL = facts(Interval(date(2027, 8, 1)),
                         ends_on=last_day_for_event("deceased", date(2027, 8, 15)))
ENROLMENT_ENDED = facts(ends_on=last_day_for_event("enrollment_ended", date(2027, 9, 1)))
MOVED_OUT = facts(ends_on=last_day_for_event("moved_out", date(2027, 10, 1)))

# (what, facts, day, state that day, counts as an active day)
STATES = [
    ("the day before the first day: granted, not yet paid", PLAIN, date(2026, 11, 30),
     ACTIVE, False),
    ("the first day", PLAIN, START, ACTIVE, True),
    ("the day before admission", facts(STAY), date(2027, 3, 9), ACTIVE, True),
    ("the admission day is suspended", facts(STAY), date(2027, 3, 10), SUSPENDED, False),
    ("the day before discharge is suspended", facts(STAY), date(2027, 3, 19), SUSPENDED,
     False),
    ("the discharge day is active again", facts(STAY), date(2027, 3, 20), ACTIVE, True),
    ("a stay without a discharge yet stays suspended", facts(OPEN_STAY), date(2027, 6, 1),
     SUSPENDED, False),
    ("an open stay does not reach back before admission", facts(OPEN_STAY),
     date(2027, 3, 9), ACTIVE, True),
    ("a discharge whose admission is unknown suspends nothing", facts(DISCHARGE_ONLY),
     date(2027, 3, 19), ACTIVE, True),
    ("… nor long before it", facts(DISCHARGE_ONLY), date(2027, 1, 5), ACTIVE, True),
    ("a clerk's suspension", facts(CLERK_HOLD), date(2027, 5, 15), SUSPENDED, False),
    ("a clerk's suspension from its first day", facts(CLERK_HOLD), date(2027, 5, 1),
     SUSPENDED, False),
    ("the day a clerk's suspension resumes", facts(CLERK_HOLD), date(2027, 6, 1), ACTIVE,
     True),
    ("the day of death is still active", DIED, date(2027, 8, 15), ACTIVE, True),
    ("the day after death has ended", DIED, date(2027, 8, 16), ENDED, False),
    ("death in hospital: suspended on the day of death", DIED_IN_HOSPITAL,
     date(2027, 8, 15), SUSPENDED, False),
    ("death in hospital: ended the day after", DIED_IN_HOSPITAL, date(2027, 8, 16), ENDED,
     False),
    ("enrolment ended on 1 Sep: 31 Aug is the last day", ENROLMENT_ENDED, date(2027, 8, 31),
     ACTIVE, True),
    ("enrolment ended on 1 Sep: ended that day", ENROLMENT_ENDED, date(2027, 9, 1), ENDED,
     False),
    ("moved out on 1 Oct: 30 Sep is the last day", MOVED_OUT, date(2027, 9, 30), ACTIVE, True),
    ("moved out on 1 Oct: ended that day", MOVED_OUT, date(2027, 10, 1), ENDED, False),
    ("the expiry day is still active", PLAIN, EXPIRES, ACTIVE, True),
    ("the day after expiry has ended", PLAIN, EXPIRES + timedelta(days=1), ENDED, False),
    ("an early end wins over a later expiry", facts(ends_on=date(2027, 1, 31)),
     date(2027, 2, 1), ENDED, False),
    ("a stay running past expiry: ended, not suspended", facts(Interval(date(2028, 11, 1))),
     date(2028, 12, 1), ENDED, False),
]


@pytest.mark.parametrize(("facts_", "day", "state", "active"),
                         [row[1:] for row in STATES], ids=[row[0] for row in STATES])
def test_state_on(facts_: EntitlementFacts, day: date, state: EntitlementState,
                  active: bool) -> None:
    assert state_on(facts_, day) == state
    assert is_active_day(facts_, day) is active


@pytest.mark.parametrize(("decided_on", "starts_on"), [
    (date(2026, 11, 22), date(2026, 12, 1)),  # mid-month
    (date(2026, 11, 1), date(2026, 12, 1)),  # decided on a first: still next month
    (date(2026, 11, 30), date(2026, 12, 1)),
    (date(2026, 12, 15), date(2027, 1, 1)),  # December → January of the next year
    (date(2026, 12, 31), date(2027, 1, 1)),
    (date(2027, 1, 31), date(2027, 2, 1)),  # 31 January → 1 February, not 3 March
    (date(2028, 2, 29), date(2028, 3, 1)),
])
def test_benefit_start_is_the_first_of_next_month(decided_on: date, starts_on: date) -> None:
    assert benefit_start(decided_on) == starts_on


@pytest.mark.parametrize(("starts_on", "months", "last_day"), [
    (date(2026, 12, 1), 24, date(2028, 11, 30)),
    (date(2027, 1, 1), 24, date(2028, 12, 31)),
    (date(2028, 2, 1), 1, date(2028, 2, 29)),  # Feb 1 in a leap year: through 29 Feb
    (date(2027, 2, 1), 1, date(2027, 2, 28)),  # … in a common year: through 28 Feb
    (date(2027, 2, 1), 13, date(2028, 2, 29)),  # ends in a leap February
    (date(2028, 2, 1), 24, date(2030, 1, 31)),
    (date(2026, 3, 1), 24, date(2028, 2, 29)),
    (date(2028, 3, 1), 12, date(2029, 2, 28)),
])
def test_expiry_is_the_day_before_the_same_date_months_later(
        starts_on: date, months: int, last_day: date) -> None:
    assert expiry(starts_on, months) == last_day


@pytest.mark.parametrize(("expires_on", "lead_days", "due_on"), [
    (date(2028, 11, 30), 60, date(2028, 10, 1)),
    (date(2028, 12, 31), 60, date(2028, 11, 1)),
    (date(2028, 2, 29), 60, date(2027, 12, 31)),
    (date(2028, 11, 30), 1, date(2028, 11, 29)),
])
def test_renewal_due_on(expires_on: date, lead_days: int, due_on: date) -> None:
    assert renewal_due_on(expires_on, lead_days) == due_on


@pytest.mark.parametrize(("kind", "effective_on", "last_day"), [
    ("deceased", date(2027, 8, 15), date(2027, 8, 15)),
    ("enrollment_ended", date(2027, 9, 1), date(2027, 8, 31)),
    ("enrollment_ended", date(2028, 3, 1), date(2028, 2, 29)),
    ("moved_out", date(2027, 1, 1), date(2026, 12, 31)),
])
def test_last_day_for_each_ending_event(kind: str, effective_on: date, last_day: date) -> None:
    assert last_day_for_event(kind, effective_on) == last_day


@pytest.mark.parametrize("kind", ["hospital_admitted", "hospital_discharged", "enrolled",
                                  "bogus"])
def test_events_that_do_not_end_an_entitlement_have_no_last_day(kind: str) -> None:
    with pytest.raises(ValueError, match=kind):
        last_day_for_event(kind, date(2027, 1, 1))


def month(year: int, number: int) -> list[date]:
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return [first + timedelta(days=i) for i in range((following - first).days)]


# One stay across the end of February (home on 5 March), another across the end of March
# (admitted 28 March, home on 3 April).
TWO_STAYS = facts(Interval(date(2027, 2, 25), date(2027, 3, 5)),
                  Interval(date(2027, 3, 28), date(2027, 4, 3)))


@pytest.mark.parametrize(("facts_", "year", "number", "days"), [
    (TWO_STAYS, 2027, 2, 28 - 4),  # 25–28 Feb in hospital
    (TWO_STAYS, 2027, 3, 31 - 4 - 4),  # 1–4 and 28–31 March
    (TWO_STAYS, 2027, 4, 30 - 2),  # 1–2 April; home on the 3rd
    (PLAIN, 2026, 11, 0),  # before the first day
    (PLAIN, 2026, 12, 31),
    (DIED, 2027, 8, 15),  # 1–15 August
    (ENROLMENT_ENDED, 2027, 9, 0),
    (PLAIN, 2028, 11, 30),  # the last month of validity
    (PLAIN, 2028, 12, 0),
])
def test_active_days_in_a_month(facts_: EntitlementFacts, year: int, number: int,
                                days: int) -> None:
    assert active_days(facts_, month(year, number)) == days
