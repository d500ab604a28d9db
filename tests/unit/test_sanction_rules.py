"""ltc.sanctions.rules: periods, the exit notice edge, the handover proposal, the forms."""

from __future__ import annotations

from datetime import date

import pytest

from ltc.sanctions.rules import (
    EXIT_NOTICE_MONTHS,
    Candidate,
    acts_from,
    ban_problems,
    completion_problem,
    earliest_exit,
    exit_problem,
    in_effect,
    propose,
    propose_all,
    sanction_problems,
    town_of,
)

D = date


@pytest.mark.parametrize(("starts_on", "ends_on", "day", "expected"), [
    (D(2027, 1, 1), D(2027, 3, 31), D(2026, 12, 31), False),  # the day before
    (D(2027, 1, 1), D(2027, 3, 31), D(2027, 1, 1), True),  # first day
    (D(2027, 1, 1), D(2027, 3, 31), D(2027, 3, 31), True),  # last day
    (D(2027, 1, 1), D(2027, 3, 31), D(2027, 4, 1), False),  # the day after: works again
    (D(2027, 1, 1), None, D(2030, 1, 1), True),  # a termination has no end
    (D(2027, 1, 1), None, D(2026, 12, 31), False),
])
def test_a_period_is_in_effect_on_both_its_days(starts_on, ends_on, day, expected) -> None:
    assert in_effect(starts_on, ends_on, day) is expected


@pytest.mark.parametrize(("notice_on", "exit_on", "refused"), [
    (D(2026, 10, 15), D(2027, 1, 15), False),  # exactly three months
    (D(2026, 10, 15), D(2027, 1, 14), True),  # a day less
    (D(2026, 10, 15), D(2027, 6, 1), False),
    (D(2026, 11, 30), D(2027, 2, 28), False),  # February clamps
    (D(2026, 11, 30), D(2027, 2, 27), True),
    (D(2026, 12, 4), D(2026, 12, 4), True),  # no notice at all
    (D(2026, 12, 4), None, True),
])
def test_an_exit_needs_three_months_notice(notice_on, exit_on, refused) -> None:
    assert EXIT_NOTICE_MONTHS == 3
    assert (exit_problem(exit_on, notice_on) is not None) is refused
    if refused and exit_on is not None:
        assert earliest_exit(notice_on).isoformat() in exit_problem(exit_on, notice_on)


def _c(id_: int, code: str, towns: set[str], clients: int) -> Candidate:
    return Candidate(id_, code, f"机构{id_}", frozenset(towns), clients)


EXITING = 1
CANDIDATES = [_c(1, "A", {"t1", "t2"}, 0), _c(2, "B", {"t1"}, 5), _c(3, "C", {"t1", "t2"}, 3),
              _c(4, "D", {"t2"}, 3), _c(5, "E", {"t3"}, 0)]


@pytest.mark.parametrize(("town", "expected"), [
    ("t1", 3),  # fewest clients among 2 (5) and 3 (3); the exiting one (0) never
    ("t2", 3),  # 3 and 4 tie on 3 clients: code C before D
    ("t3", 5),
    ("t9", None),  # nobody serves the town: the clerk chooses
    ("", None),  # a person without a town
])
def test_the_proposal_is_the_town_provider_with_fewest_clients(town, expected) -> None:
    found = propose(town, CANDIDATES, EXITING)
    assert (found.id if found else None) == expected


def test_proposals_count_each_client_proposed_before() -> None:
    chosen = propose_all(["t1", "t1", "t1"], [_c(2, "B", {"t1"}, 1), _c(3, "C", {"t1"}, 0)],
                         EXITING)
    assert [c.id for c in chosen] == [3, 2, 3]  # C (0) → 1; B (1) ties C (1): B by code; …


@pytest.mark.parametrize(("path", "town"), [
    ("370983/370983001/370983001001", "370983001"), ("370983/370983001", "370983001"),
    ("370983", "")])
def test_the_town_is_the_second_level_of_the_path(path, town) -> None:
    assert town_of(path) == town


GOOD = {"target": "staff", "party": 7, "measure": "suspend", "category": "quality",
        "reason": "多次未按计划上门", "legal_basis": "服务协议第十二条",
        "starts_on": D(2027, 1, 1), "ends_on": D(2027, 3, 31)}


@pytest.mark.parametrize(("change", "fields"), [
    ({}, set()),
    ({"measure": "terminate", "ends_on": None}, set()),
    ({"measure": "terminate"}, {"ends_on"}),  # a termination has no end
    ({"ends_on": None}, {"ends_on"}),  # a suspension has one
    ({"ends_on": D(2026, 12, 31)}, {"ends_on"}),
    ({"target": "x", "measure": "", "category": "nope", "reason": " ", "legal_basis": "",
      "starts_on": None}, {"target", "measure", "category", "reason", "legal_basis",
                           "starts_on"}),  # all at once
    ({"party": None}, {"party"}),
    ({"reason": "长" * 501}, {"reason"}),
])
def test_sanction_problems_are_told_at_once(change, fields) -> None:
    assert set(sanction_problems({**GOOD, **change})) == fields


def test_ban_problems_check_the_resident_id_and_period() -> None:
    good = {"resident_id": "370983198001011239", "name": "王某", "category": "fraud",
            "reason": "骗取基金", "legal_basis": "21号文", "starts_on": D(2027, 1, 1),
            "ends_on": D(2029, 12, 31)}
    today = D(2026, 12, 4)
    assert ban_problems(good, today) == {}
    assert set(ban_problems({**good, "resident_id": "123", "ends_on": None}, today)) == {
        "resident_id", "ends_on"}


@pytest.mark.parametrize(("open_items", "state", "refused"), [
    (0, "OPEN", False), (1, "OPEN", True), (0, "COMPLETED", True)])
def test_an_exit_completes_only_with_every_client_handed_over(open_items, state,
                                                              refused) -> None:
    assert (completion_problem(open_items, state) is not None) is refused


D = date


@pytest.mark.parametrize(("agreement", "period", "expected"), [
    ((D(2026, 1, 1), D(2026, 12, 31)), (D(2026, 12, 16), D(2027, 3, 15)), D(2026, 12, 16)),
    ((D(2027, 1, 1), D(2027, 12, 31)), (D(2026, 12, 16), D(2027, 3, 15)), D(2027, 1, 1)),
    ((D(2027, 3, 15), D(2027, 12, 31)), (D(2026, 12, 16), D(2027, 3, 15)), D(2027, 3, 15)),
    ((D(2027, 3, 16), D(2027, 12, 31)), (D(2026, 12, 16), D(2027, 3, 15)), None),
    ((D(2026, 1, 1), D(2026, 12, 16)), (D(2026, 12, 16), None), D(2026, 12, 16)),
    ((D(2026, 1, 1), D(2026, 12, 15)), (D(2026, 12, 16), None), None),
    ((D(2030, 1, 1), D(2030, 12, 31)), (D(2026, 12, 16), None), D(2030, 1, 1)),
])
def test_a_sanction_acts_on_an_agreement_from_the_later_first_day(agreement, period,
                                                                   expected) -> None:
    assert acts_from(*agreement, *period) == expected
