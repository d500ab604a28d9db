"""Spot-check rules, table-driven: the sample size (rate rounded up), the draw (every
organisation covered, reproducible from its seed, replay equals the stored result), an
expert's entry, and the conformity rate."""

from __future__ import annotations

import json

import pytest

from ltc.spotchecks.rules import (
    ALGORITHM,
    Candidate,
    Finding,
    conformity_rate,
    draw,
    draw_record,
    finding_problems,
    replay,
    sample_size,
)


@pytest.mark.parametrize(("population", "basis_points", "size"), [
    (0, 500, 0),  # nothing concluded: nothing to check
    (1, 500, 1),  # 5 % of 1 rounds up to one
    (19, 500, 1),
    (20, 500, 1),  # exactly 1
    (21, 500, 2),  # 1.05 rounds up
    (40, 500, 2),
    (41, 500, 3),
    (100, 500, 5),
    (101, 500, 6),
    (1000, 1, 1),  # 0.01 %: a tenth, rounded up
    (10_000, 1, 1),
    (10_001, 1, 2),
    (7, 0, 0),  # rate 0: only the one-per-organisation cover (see draw)
    (7, 10_000, 7),  # 100 %: everything
    (3, 3333, 1),  # 0.9999 → 1
    (3, 3334, 2),  # 1.0002 → 2
])
def test_sample_size_is_the_rate_rounded_up(population, basis_points, size) -> None:
    assert sample_size(population, basis_points) == size


def _month(spec: dict[int, tuple[int, ...]]) -> list[Candidate]:
    return [Candidate(assessment_id, orgs) for assessment_id, orgs in spec.items()]


# Candidates (assessment id → organisations), rate → how many are drawn.
DRAW_TABLE = [
    ({}, 500, 0),
    ({1: (10,)}, 500, 1),
    ({1: (10,)}, 0, 1),  # rate 0 still checks the organisation once
    # Three organisations, 5 % of 3 is one: the cover makes it three.
    ({1: (10,), 2: (20,), 3: (30,)}, 500, 3),
    # One assessment by two organisations covers both at once.
    ({1: (10, 20)}, 500, 1),
    ({i: (10,) for i in range(1, 101)}, 500, 5),  # one organisation, 100 → 5
    ({i: (10 + i % 3,) for i in range(1, 101)}, 500, 5),  # three organisations, 5 ≥ 3
    ({i: (10 + i % 7,) for i in range(1, 41)}, 500, 7),  # seven organisations, 2 < 7
    ({i: (10,) for i in range(1, 5)}, 10_000, 4),  # everything
]


@pytest.mark.parametrize(("spec", "basis_points", "drawn"), DRAW_TABLE)
@pytest.mark.parametrize("seed", ["a", "0f3c9e", "spot-2026-11"])
def test_the_draw_covers_every_organisation_and_takes_the_rate(spec, basis_points, drawn,
                                                               seed) -> None:
    candidates = _month(spec)
    chosen = draw(candidates, seed, basis_points)
    assert len(chosen) == drawn
    assert len(set(chosen)) == len(chosen)  # nobody twice
    assert set(chosen) <= set(spec)
    covered = {o for assessment_id in chosen for o in spec[assessment_id]}
    assert covered == {o for orgs in spec.values() for o in orgs}


@pytest.mark.parametrize(("spec", "basis_points", "drawn"), DRAW_TABLE)
def test_the_draw_is_reproducible_from_its_seed_and_replays(spec, basis_points, drawn) -> None:
    candidates = _month(spec)
    chosen = draw(candidates, "seed-1", basis_points)
    # The same seed in any candidate order gives the same picks.
    assert draw(list(reversed(candidates)), "seed-1", basis_points) == chosen
    record = json.loads(json.dumps(draw_record(candidates, "seed-1", basis_points, chosen)))
    assert record["algorithm"] == ALGORITHM
    assert replay(record) == record["chosen"] == chosen
    assert replay(json.dumps(record)) == chosen


def test_different_seeds_draw_differently() -> None:
    candidates = _month({i: (10,) for i in range(1, 201)})
    draws = {tuple(draw(candidates, f"seed-{n}", 500)) for n in range(20)}
    assert len(draws) == 20


def test_the_cover_pick_follows_the_hash_of_the_seed() -> None:
    # By hand: pick 1 of organisation 10's three candidates is SHA-256("s:1") mod 3.
    from ltc.assessments.draw import pick_index

    candidates = _month({1: (10,), 2: (10,), 3: (10,)})
    assert draw(candidates, "s", 0) == [[1, 2, 3][pick_index("s", 1, 3)]]


def test_replay_refuses_an_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unknown"):
        replay({"algorithm": "dice", "seed": "x", "rate_basis_points": 500,
                "candidates": [], "chosen": []})


@pytest.mark.parametrize(("finding", "notes", "fields"), [
    ("conform", "", set()),
    ("conform", "与视频一致", set()),
    ("nonconform", "穿衣一项视频显示可独立完成", set()),
    ("nonconform", "", {"notes"}),
    ("nonconform", "   ", {"notes"}),
    ("", "", {"finding"}),
    ("maybe", "x" * 1001, {"finding", "notes"}),
    ("conform", "x" * 1000, set()),
    ("conform", "x" * 1001, {"notes"}),
])
def test_an_experts_entry_lists_every_problem(finding, notes, fields) -> None:
    assert set(finding_problems(finding, notes)) == fields


def test_labels_and_rate() -> None:
    assert [f.label for f in Finding] == ["符合", "不符合"]
    assert conformity_rate(0, 0) == "—"
    assert conformity_rate(3, 4) == "75.0%"
    assert conformity_rate(2, 3) == "66.7%"
