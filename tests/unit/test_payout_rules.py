"""ltc.payouts.rules: rounding, visit classification, anomalies, bank files (table-driven)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltc import clock, money
from ltc.payouts import rules


@pytest.mark.parametrize(("numerator", "denominator", "expected"), [
    (45000 * 21, 31, 30484),  # 30483.87 → up
    (45000 * 16, 31, 23226),  # 23225.806
    (45000 * 14, 29, 21724),  # 21724.14 → down
    (5, 10, 1),  # exactly half → up
    (4, 10, 0),
    (15, 10, 2),  # 1.5 → 2
    (25, 10, 3),  # 2.5 → 3 (half up, not banker's)
    (-25, 10, -3),  # a negative adjustment rounds away from zero, mirror of the positive
    (0, 31, 0),
])
def test_divide_half_up(numerator, denominator, expected) -> None:
    assert rules.divide_half_up(numerator, denominator) == expected


@given(st.integers(0, 10**9), st.integers(1, 31))
def test_half_up_is_within_half_a_fen(numerator, denominator) -> None:
    result = rules.divide_half_up(numerator, denominator)
    assert -denominator <= 2 * (numerator - result * denominator) < denominator  # half: up


@pytest.mark.parametrize(("gross", "basis_points", "withheld"), [
    (32000, 500, 1600), (8000, 500, 400), (133000, 500, 6650), (30, 500, 2),  # 1.5 → 2
    (29, 500, 1), (0, 500, 0), (10000, 0, 0), (10000, 10000, 10000), (-8000, 500, -400),
])
def test_withheld_deposit(gross, basis_points, withheld) -> None:
    assert rules.withheld_fen(gross, basis_points) == withheld


@pytest.mark.parametrize(("fen", "text"), [
    (0, "0.00"), (5, "0.05"), (12345, "123.45"), (-5, "-0.05"), (-21774, "-217.74"),
    (100, "1.00"),
])
def test_yuan(fen, text) -> None:
    assert money.plain_yuan(fen) == text


@pytest.mark.parametrize(("first", "days", "previous"), [
    (date(2026, 12, 1), 31, date(2026, 11, 1)),
    (date(2027, 2, 1), 28, date(2027, 1, 1)),
    (date(2028, 2, 1), 29, date(2028, 1, 1)),  # leap year
    (date(2027, 1, 1), 31, date(2026, 12, 1)),
    (date(2026, 4, 1), 30, date(2026, 3, 1)),
])
def test_months(first, days, previous) -> None:
    assert len(clock.days_of(first)) == days == clock.month_last(first).day
    assert clock.previous_month(first) == previous


def _visit(n: int, review: str = "accepted", active: bool = True, agreement: bool = True):
    return rules.VisitFacts(n, n, review, active, agreement)


@pytest.mark.parametrize(("visits", "quota", "expected"), [
    ([_visit(1), _visit(2)], 2, {1: "", 2: ""}),
    ([_visit(3), _visit(1), _visit(2)], 2, {1: "", 2: "", 3: "over_quota"}),  # by start time
    ([_visit(1, "flagged"), _visit(2), _visit(3)], 2, {1: "flagged", 2: "", 3: ""}),
    ([_visit(1, "rejected"), _visit(2, "accepted_after_review")], 1,
     {1: "rejected", 2: ""}),
    ([_visit(1, active=False), _visit(2)], 1, {1: "inactive_day", 2: ""}),
    ([_visit(1, agreement=False), _visit(2)], 1, {1: "no_provider_agreement", 2: ""}),
    ([_visit(1, "flagged", active=False)], 4, {1: "flagged"}),  # review is checked first
    ([_visit(1, active=False, agreement=False)], 4, {1: "inactive_day"}),
    ([_visit(n) for n in range(1, 6)], 4, {1: "", 2: "", 3: "", 4: "", 5: "over_quota"}),
])
def test_classify_visits(visits, quota, expected) -> None:
    assert rules.classify_visits(visits, quota) == expected


@pytest.mark.parametrize(("previous", "current", "expected"), [
    (None, 100, "new"), (0, 100, "new"), (100, 131, "up"), (100, 130, ""),
    (100, 70, ""), (100, 69, "down"), (100, 100, ""),
])
def test_anomalies(previous, current, expected) -> None:
    assert rules.is_anomalous(previous, current) == expected


def test_payment_references_are_the_batch_number_and_a_sequence() -> None:
    assert rules.payment_reference("JS370983202612", 7) == "JS370983202612-000007"


def test_bank_file_is_utf8_csv_with_yuan() -> None:
    data = rules.bank_file([{"reference": "JS1-000001", "payee_name": "李明",
                             "bank_name": "农业银行", "bank_account": "6228", "amount_fen": 45000}],
                           "长护险2026年12月待遇")
    assert data.decode("utf-8").splitlines() == [
        ",".join(rules.BANK_HEADER), "JS1-000001,李明,农业银行,6228,450.00,长护险2026年12月待遇"]


@pytest.mark.parametrize(("text", "rows", "problem"), [
    ("payment_reference,status,reason\nA-1,paid,\nA-2,failed,账户已销户\n",
     [("A-1", "paid", ""), ("A-2", "failed", "账户已销户")], None),
    ("\ufeffpayment_reference,status,reason\r\nA-1,成功,\r\n", [("A-1", "paid", "")], None),
    ("payment_reference,status,reason\nA-1,失败,户名不符\n", [("A-1", "failed", "户名不符")], None),
    ("ref,status\nA-1,paid\n", [], "第1行应为表头"),
    ("payment_reference,status,reason\nA-1,done,\n", [], "第2行状态"),
    ("payment_reference,status,reason\nA-1,failed,\n", [], "第2行支付失败须写明原因"),
    ("payment_reference,status,reason\nA-1,paid,\nA-1,paid,\n", [], "第3行支付流水号 A-1 重复"),
    ("payment_reference,status,reason\n,paid,\n", [], "第2行缺少支付流水号"),
    ("payment_reference,status,reason\n", [], "没有回单记录"),
])
def test_parse_bank_result(text, rows, problem) -> None:
    parsed, problems = rules.parse_bank_result(text.encode("utf-8"))
    if problem is None:
        assert problems == []
        assert [(r.reference, r.status, r.reason) for r in parsed] == rows
    else:
        assert any(problem in p for p in problems), problems


def test_a_bank_file_in_another_encoding_is_refused() -> None:
    _, problems = rules.parse_bank_result("payment_reference,status,reason\n甲,paid,\n"
                                          .encode("gbk"))
    assert problems and "UTF-8" in problems[0]


@pytest.mark.parametrize(("kind", "benefit", "words"), [
    ("regular", "family_subsidy", ["共31天", "覆盖20天", "450.00元/月 × 20 ÷ 31"]),
    ("regular", "home_visit", ["计费上门4次 × 80.00元/次", "不计费1次", "质量保证金16.00元",
                               "实付304.00元"]),
    ("regular", "institutional", ["床日19天", "70.00元/床日（5级）"]),
    ("adjustment", "family_subsidy", ["已付（应付）450.00元", "原按31天", "应为232.26元",
                                      "扣回217.74元"]),
    ("carry_forward", "home_visit", ["上期支付失败", "重新支付304.00元"]),
])
def test_explanations(kind, benefit, words) -> None:
    line = {"kind": kind, "benefit": benefit, "service_month": date(2026, 12, 1),
            "days_in_month": 31, "days": 20, "rate_fen": 45000, "grade": 5,
            "visits_counted": 4, "visits_excluded": 1, "withheld_fen": 0, "net_fen": 0,
            "gross_fen": 0, "previous_gross_fen": 0, "previous_days": 0, "previous_visits": 0}
    if benefit == "home_visit":
        line.update(rate_fen=8000, gross_fen=32000, withheld_fen=1600, net_fen=30400)
    if benefit == "institutional":
        line.update(days=19, rate_fen=7000, gross_fen=133000, withheld_fen=6650)
    if kind == "adjustment":
        line.update(days=16, gross_fen=-21774, net_fen=-21774, previous_gross_fen=45000,
                    previous_days=31)
    text = " ".join(rules.explain(line, 500))
    for word in words:
        assert word in text, text


@pytest.mark.parametrize(("key", "label"), [
    ("org:15", "org:15"),
    ("cg:370983195001010012", "cg:3709************12"),
    ("cg:37098319500101001X", "cg:3709************1X"),
])
def test_payee_labels_never_show_a_resident_id(key, label) -> None:
    assert rules.payee_label(key) == label


@pytest.mark.parametrize(("text", "pairs"), [
    ("", []), ("12:", [(12, "")]), ("12:,7:over_quota", [(12, ""), (7, "over_quota")]),
])
def test_visit_treatments(text, pairs) -> None:
    assert rules.treatments(text) == pairs


@pytest.mark.parametrize(("benefit", "words"), [
    ("family_subsidy", "各段协议的月标准 × 20 ÷ 31"), ("home_visit", "× 各次当日协议单价"),
    ("institutional", "× 各段协议的床日标准"),
])
def test_explanations_of_lines_priced_by_several_rates(benefit, words) -> None:
    line = {"kind": "regular", "benefit": benefit, "service_month": date(2026, 12, 1),
            "days_in_month": 31, "days": 20, "rate_fen": 0, "grade": 5, "visits_counted": 4,
            "visits_excluded": 0, "withheld_fen": 0, "net_fen": 0, "gross_fen": 0}
    assert words in " ".join(rules.explain(line, 500))


def test_a_line_without_unpaid_visits_does_not_mention_them() -> None:
    line = {"kind": "regular", "benefit": "home_visit", "service_month": date(2026, 12, 1),
            "days_in_month": 31, "days": 0, "rate_fen": 8000, "grade": 5, "visits_counted": 2,
            "visits_excluded": 0, "withheld_fen": 0, "net_fen": 16000, "gross_fen": 16000}
    assert rules.explain(line, 500) == ["2026年12月计费上门2次 × 80.00元/次。"]
