"""The family portal's pure rules: the letter's signed link, answers on visits, ratings and
the daily limit of wrong PINs — every row and edge."""

from __future__ import annotations

import pytest

from ltc.careplans.rules import family_link_token, link_key, read_family_link
from ltc.family import rules

KEY = link_key("k" * 48)
TOKEN = family_link_token(KEY, 17, 2_000_000_000)


# (what, token, now, status)
LINKS = [
    ("good", TOKEN, 1_999_999_999, "ok"),
    ("at its expiry", TOKEN, 2_000_000_000, "expired"),
    ("after its expiry", TOKEN, 2_100_000_000, "expired"),
    ("another key", family_link_token(link_key("x" * 48), 17, 2_000_000_000), 0, "tampered"),
    ("letter changed", TOKEN.replace("17.", "18.", 1), 0, "tampered"),
    ("expiry moved", TOKEN.replace(".2000000000.", ".2100000000."), 0, "tampered"),
    ("signature cut", TOKEN[:-1], 0, "tampered"),
    ("two parts", "17.2000000000", 0, "tampered"),
    ("four parts", TOKEN + ".1", 0, "tampered"),
    ("not digits", "a.b.c", 0, "tampered"),
    ("full-width digits", "１７.2000000000." + TOKEN.rsplit(".", 1)[1], 0, "tampered"),
    ("a huge number", "9" * 40 + ".1.0", 0, "tampered"),
    ("empty", "", 0, "tampered"),
]


@pytest.mark.parametrize(("token", "now", "status"), [r[1:] for r in LINKS],
                         ids=[r[0] for r in LINKS])
def test_a_link_is_read(token: str, now: int, status: str) -> None:
    found, letter = read_family_link(KEY, token, now)
    assert found == status
    assert letter == (17 if status == "ok" else None)


def test_every_link_status_has_a_page() -> None:
    assert set(rules.LINK_PROBLEMS) == {"tampered", "expired", "replaced", "not_issued"}


# (what, answer, words, fields with problems)
ANSWERS = [
    ("confirmed", "confirmed", "", set()),
    ("confirmed with words", "confirmed", "很好", set()),
    ("disputed with words", "disputed", "没有上门", set()),
    ("disputed, two characters", "disputed", "没来", set()),
    ("disputed, one character", "disputed", "无", {"words"}),
    ("disputed, blanks only", "disputed", "   ", {"words"}),
    ("disputed, too long", "disputed", "字" * 201, {"words"}),
    ("disputed, the longest", "disputed", "字" * 200, set()),
    ("no answer", "", "", {"answer"}),
    ("unknown answer", "maybe", "字" * 201, {"answer", "words"}),
]


@pytest.mark.parametrize(("answer", "words", "fields"), [r[1:] for r in ANSWERS],
                         ids=[r[0] for r in ANSWERS])
def test_answer_problems(answer: str, words: str, fields: set[str]) -> None:
    assert set(rules.answer_problems(answer, words)) == fields


# (score, comment, fields with problems)
RATINGS = [(1, "", set()), (5, "好" * 200, set()), (0, "", {"score"}), (6, "", {"score"}),
           (None, "好" * 201, {"score", "comment"}), (3, "好" * 201, {"comment"})]


@pytest.mark.parametrize(("score", "comment", "fields"), RATINGS)
def test_rating_problems(score: int | None, comment: str, fields: set[str]) -> None:
    assert set(rules.rating_problems(score, comment)) == fields


@pytest.mark.parametrize(("wrong", "locked", "words"), [
    (0, False, "还可再试5次"), (1, False, "还可再试4次"), (4, False, "还可再试1次"),
    (5, True, "锁定至明天0时"), (6, True, "锁定至明天0时")])
def test_wrong_pins_lock_the_day(wrong: int, locked: bool, words: str) -> None:
    assert rules.sign_in_locked(wrong) is locked
    assert words in rules.wrong_pin_message(wrong)
