import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ltc
from ltc.money import yuan
from ltc.payouts.service import _DOING
from ltc.people.rules import mask_resident_id
from ltc.web.formatting import iso_date, letter_date, local_time
from ltc.web.timeline import action_label


@pytest.mark.parametrize(
    ("fen", "shown"),
    [(0, "¥0.00"), (5, "¥0.05"), (45000, "¥450.00"), (123456, "¥1,234.56"),
     (100000000, "¥1,000,000.00"), (-1050, "-¥10.50"), (None, "")],
)
def test_money_is_shown_from_integer_fen(fen: int | None, shown: str) -> None:
    assert yuan(fen) == shown


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_money_formatting_round_trips_exactly(fen: int) -> None:
    text = yuan(fen).replace("¥", "").replace(",", "")
    whole, cents = text.lstrip("-").split(".")
    assert (int(whole) * 100 + int(cents)) * (-1 if text.startswith("-") else 1) == fen


def test_dates_in_tables_and_letters_use_beijing_civil_time() -> None:
    # 2026-09-30 17:00 UTC is already 1 October in Beijing.
    moment = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert iso_date(moment) == "2026-10-01"
    assert letter_date(moment) == "2026年10月1日"
    assert letter_date(date(2026, 12, 31)) == "2026年12月31日"
    assert local_time(moment) == "2026-10-01 01:00"


@pytest.mark.parametrize(
    ("resident_id", "masked"),
    [("11010519491231002X", "110105********002X"),
     ("370983199001011234", "370983********1234"),
     ("12345", "*****")],
)
def test_resident_ids_are_masked_in_lists(resident_id: str, masked: str) -> None:
    assert mask_resident_id(resident_id) == masked


def _recorded_actions() -> list[str]:
    """Every audit action the code records under a literal name (also reads of lists),
    plus the payout batch's
    state changes (recorded as f"payout_batch.{action}")."""
    source = "\n".join(p.read_text() for p in Path(ltc.__file__).parent.rglob("*.py"))
    literal = re.findall(r'\brecord(?:_list_read)?\(\s*\w+,\s*"([a-z_]+\.[a-z_]+)"', source)
    batch = [f"payout_batch.{action}" for action in _DOING]
    return sorted(set(literal + batch))


def test_the_scan_finds_the_recorded_actions() -> None:
    actions = _recorded_actions()
    assert "assessment.assigned" in actions and "payout_batch.approved" in actions
    assert len(actions) > 50


@pytest.mark.parametrize("action", _recorded_actions())
def test_every_recorded_action_reads_in_chinese_on_the_timeline(action) -> None:
    assert action_label(action) != action and not action_label(action).isascii()
