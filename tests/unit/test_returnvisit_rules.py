"""Return-visit sampling rules, table-driven: the sample size per provider (rate rounded up,
the minimum, never more than the provider's visits, zero), the draw (per provider, from its
own visits, reproducible from its seed, replay equals the stored result), a clerk's entry,
the script and the evaluation's figures."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ltc.assessments.draw import pick_index
from ltc.returnvisits.rules import (
    ALGORITHM,
    Candidate,
    Outcome,
    SampleResults,
    call_script,
    draw,
    draw_record,
    reached_rate,
    replay,
    result_problems,
    sample_size,
)


@pytest.mark.parametrize(("visits", "basis_points", "minimum", "size"), [
    (0, 500, 3, 0),  # no accepted visits: nothing to call
    (0, 10_000, 0, 0),
    (1, 500, 3, 1),  # fewer visits than the minimum: every one
    (2, 500, 3, 2),
    (3, 500, 3, 3),  # exactly the minimum
    (4, 500, 3, 3),  # 5 % of 4 rounds up to 1: the minimum wins
    (60, 500, 3, 3),  # 5 % of 60 is exactly 3
    (61, 500, 3, 4),  # 3.05 rounds up: the rate wins
    (100, 500, 3, 5),
    (100, 1000, 3, 10),  # 10 %
    (100, 500, 0, 5),  # no minimum: the rate alone
    (5, 0, 0, 0),  # rate 0, minimum 0: no sample
    (5, 0, 2, 2),  # rate 0: the minimum alone
    (7, 10_000, 3, 7),  # 100 %: everything
    (7, 10_000, 100, 7),  # a minimum above the visits: every visit, no more
    (3, 3334, 0, 2),  # 1.0002 rounds up to 2
])
def test_sample_size_is_the_rate_rounded_up_at_least_the_minimum(visits, basis_points,
                                                                 minimum, size) -> None:
    assert sample_size(visits, basis_points, minimum) == size


def _month(spec: dict[int, int]) -> list[Candidate]:
    """visit id → provider."""
    return [Candidate(visit_id, provider) for visit_id, provider in spec.items()]


# Candidates (visit id → provider), rate, minimum → how many per provider.
DRAW_TABLE = [
    ({}, 500, 3, {}),
    ({1: 10}, 500, 3, {10: 1}),  # one visit: called
    ({1: 10, 2: 10, 3: 20}, 500, 3, {10: 2, 20: 1}),  # both under the minimum: all
    ({i: 10 for i in range(1, 101)} | {i: 20 for i in range(101, 106)}, 500, 3,
     {10: 5, 20: 3}),  # the big provider by the rate, the small one by the minimum
    ({i: 10 + i % 3 for i in range(1, 301)}, 500, 3, {10: 5, 11: 5, 12: 5}),
    ({i: 10 for i in range(1, 21)}, 0, 0, {}),  # rate and minimum 0: none
    ({i: 10 for i in range(1, 5)}, 10_000, 0, {10: 4}),  # everything
]


@pytest.mark.parametrize(("spec", "basis_points", "minimum", "per_provider"), DRAW_TABLE)
@pytest.mark.parametrize("seed", ["a", "0f3c9e", "returns-2026-11"])
def test_the_draw_takes_each_providers_size_from_its_own_visits(spec, basis_points, minimum,
                                                                per_provider, seed) -> None:
    chosen = draw(_month(spec), seed, basis_points, minimum)
    assert len(set(chosen)) == len(chosen)  # no visit twice
    assert set(chosen) <= set(spec)
    counts: dict[int, int] = {}
    for visit_id in chosen:
        counts[spec[visit_id]] = counts.get(spec[visit_id], 0) + 1
    assert counts == per_provider
    # Providers in ascending id order: every pick of a provider before the next one's.
    providers = [spec[v] for v in chosen]
    assert providers == sorted(providers)


@pytest.mark.parametrize(("spec", "basis_points", "minimum", "per_provider"), DRAW_TABLE)
def test_the_draw_is_reproducible_and_replays(spec, basis_points, minimum,
                                              per_provider) -> None:
    candidates = _month(spec)
    chosen = draw(candidates, "seed-1", basis_points, minimum)
    # The order the candidates come in does not matter; the seed does.
    assert draw(list(reversed(candidates)), "seed-1", basis_points, minimum) == chosen
    record = json.loads(json.dumps(draw_record(candidates, "seed-1", basis_points, minimum,
                                               chosen)))
    assert record["algorithm"] == ALGORITHM and record["chosen"] == chosen
    assert replay(record) == chosen
    assert replay(json.dumps(record)) == chosen


def test_the_picks_are_the_sha256_indexes_the_docstring_describes() -> None:
    # Provider 10 has visits 1–4 (minimum 2), provider 20 has 5–6 (minimum 2: both).
    candidates = _month({1: 10, 2: 10, 3: 10, 4: 10, 5: 20, 6: 20})
    remaining, expected = [1, 2, 3, 4], []
    for k in (1, 2):
        expected.append(remaining.pop(pick_index("s", k, len(remaining))))
    remaining = [5, 6]
    for k in (3, 4):
        expected.append(remaining.pop(pick_index("s", k, len(remaining))))
    assert draw(candidates, "s", 500, 2) == expected


def test_different_seeds_draw_differently() -> None:
    candidates = _month({i: 10 for i in range(1, 201)})
    assert len({tuple(draw(candidates, f"seed-{n}", 500, 3)) for n in range(5)}) > 1


def test_a_record_of_another_algorithm_is_refused() -> None:
    record = draw_record([], "s", 500, 3, [])
    with pytest.raises(ValueError, match="unknown return-visit algorithm"):
        replay({**record, "algorithm": "other"})


@pytest.mark.parametrize(("outcome", "satisfaction", "note", "fields"), [
    ("confirmed", "5", "", set()),
    ("confirmed", "1", "服务人员态度一般", set()),
    ("denied", "2", "家属说14日没有人来", set()),
    ("unreachable", "", "", set()),
    ("unreachable", "4", "", set()),  # a score ticked before: ignored, nobody answered
    ("", "", "", {"outcome"}),
    ("maybe", "3", "", {"outcome"}),
    ("confirmed", "", "", {"satisfaction"}),  # reached: satisfaction is asked
    ("confirmed", "0", "", {"satisfaction"}),
    ("confirmed", "6", "", {"satisfaction"}),
    ("confirmed", "3.5", "", {"satisfaction"}),
    ("confirmed", "²", "", {"satisfaction"}),  # a digit to str.isdigit, not to int()
    ("denied", "", "", {"satisfaction", "note"}),  # every problem at once
    ("denied", "3", "   ", {"note"}),
    ("confirmed", "5", "长" * 501, {"note"}),
    ("confirmed", "5", "长" * 500, set()),
])
def test_a_clerks_entry(outcome, satisfaction, note, fields) -> None:
    problems = result_problems(outcome, satisfaction, note)
    assert set(problems) == fields
    assert all(not message.isascii() for message in problems.values())


def test_outcomes_read_in_chinese_and_say_whether_the_family_was_reached() -> None:
    assert [(o.label, o.reached) for o in Outcome] == [
        ("确认属实", True), ("否认服务", True), ("无法联系", False)]


def test_the_script_names_the_visit() -> None:
    lines = call_script(person="张秀英", provider="潮泉镇卫生院", staff="王护士",
                        visit_on=date(2026, 11, 14), items=["口腔清洁（B08）", "洗发（B02）"])
    text = "".join(lines)
    for expected in ("张秀英", "潮泉镇卫生院", "王护士", "11月14日", "口腔清洁（B08）、洗发（B02）",
                     "1到5分"):
        assert expected in text


@pytest.mark.parametrize(("counts", "figures", "rate"), [
    ({}, (0, 0, 0, 0), "—"),
    ({"": 3}, (3, 0, 0, 0), "—"),  # drawn, nobody called yet
    ({"unreachable": 2}, (2, 0, 0, 0), "—"),  # called, nobody reached
    ({"confirmed": 3, "denied": 1, "unreachable": 1, "": 2}, (7, 4, 3, 1), "75.0%"),
    ({"confirmed": 2}, (2, 2, 2, 0), "100.0%"),
    ({"denied": 1}, (1, 1, 0, 1), "0.0%"),
])
def test_a_providers_sample_results(counts, figures, rate) -> None:
    results = SampleResults.of(counts)
    assert (results.sampled, results.reached, results.confirmed, results.denied) == figures
    assert results.confirmed_rate == rate == results.as_row()["returns_confirmed_rate"]
    assert reached_rate(1, 3) == "33.3%"
