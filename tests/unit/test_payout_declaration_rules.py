"""The declaration rules (ltc.payouts.rules, 申报): which lines a declaration confirms, the
dispute form, the first review's form over every decision and outcome, and the refusal that
names open disputes."""

from __future__ import annotations

from datetime import date

import pytest

from ltc.payouts import rules

LINE = {"id": 7, "person": 3, "benefit": "home_visit", "service_month": date(2026, 12, 1),
        "kind": "regular", "gross_fen": 16000, "withheld_fen": 800, "net_fen": 15200,
        "days": 0, "visits_counted": 2, "visits_excluded": 1,
        "visit_treatments": "1:,2:,3:flagged", "rate_fen": 8000, "grade": 5}
OTHER = {**LINE, "id": 8, "benefit": "family_subsidy", "days": 31, "gross_fen": 45000,
         "withheld_fen": 0, "net_fen": 45000, "visit_treatments": ""}


def test_the_fingerprint_ignores_order_and_ids() -> None:
    assert rules.lines_fingerprint([LINE, OTHER]) == rules.lines_fingerprint(
        [{**OTHER, "id": 80}, {**LINE, "id": 70}])


@pytest.mark.parametrize(("field", "value"), [
    ("person", 4), ("benefit", "institutional"), ("service_month", date(2026, 11, 1)),
    ("kind", "adjustment"), ("gross_fen", 16001), ("withheld_fen", 801), ("net_fen", 15201),
    ("days", 1), ("visits_counted", 3), ("visits_excluded", 0),
    ("visit_treatments", "1:,2:,3:"), ("rate_fen", 8100), ("grade", 4)])
def test_every_figure_of_a_line_is_in_the_fingerprint(field: str, value: object) -> None:
    assert rules.lines_fingerprint([LINE, OTHER]) != rules.lines_fingerprint(
        [{**LINE, field: value}, OTHER])


def test_a_line_more_or_less_changes_the_fingerprint() -> None:
    both = rules.lines_fingerprint([LINE, OTHER])
    assert both != rules.lines_fingerprint([LINE])
    assert rules.lines_fingerprint([]) != rules.lines_fingerprint([LINE])


@pytest.mark.parametrize(("reason", "problem"), [
    ("", True), ("   ", True), ("少计一次", False), ("字" * 500, False), ("字" * 501, True)])
def test_the_dispute_form(reason: str, problem: bool) -> None:
    assert bool(rules.dispute_problems(reason)) is problem


@pytest.mark.parametrize(("decision", "outcome", "answer", "fields"), [
    ("", "", "", {"decision"}),
    ("maybe", "exclude", "理由", {"decision"}),
    ("open", "", "理由", {"decision"}),
    ("upheld", "", "", {"outcome"}),
    ("upheld", "other", "理由", {"outcome"}),
    ("upheld", "recompute", "", set()),
    ("upheld", "recompute", "已更正服务记录", set()),
    ("upheld", "exclude", "", {"answer"}),
    ("upheld", "exclude", "  ", {"answer"}),
    ("upheld", "exclude", "本期不予结算", set()),
    ("rejected", "", "", {"answer"}),
    ("rejected", "", "已按实际计费", set()),
    ("rejected", "", "字" * 501, {"answer"}),
    ("upheld", "recompute", "字" * 501, {"answer"}),
])
def test_the_first_review_form(decision: str, outcome: str, answer: str,
                               fields: set[str]) -> None:
    assert set(rules.settle_problems(decision, outcome, answer)) == fields


def test_the_outcomes_and_states_read_in_chinese() -> None:
    assert set(rules.OUTCOMES) == {"recompute", "exclude"}
    assert [s.label for s in rules.DisputeState] == ["待初审", "异议成立", "异议不成立"]


def _dispute(n: int) -> dict[str, object]:
    return {"payee_name": f"机构{n}", "person_name": f"参保人{n}", "benefit": "home_visit",
            "service_month": date(2026, 12, 1)}


@pytest.mark.parametrize(("count", "named", "more"), [(1, 1, False), (20, 20, False),
                                                       (21, 20, True)])
def test_the_refusal_names_open_disputes(count: int, named: int, more: bool) -> None:
    message = rules.open_disputes_message([_dispute(n) for n in range(count)])
    assert message.startswith(f"还有{count}条服务机构申报异议未初审")
    assert message.count("上门护理服务费（2026年12月）") == named
    assert message.endswith("等") is more
