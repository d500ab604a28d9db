"""Drawing two assessors: reproducible, never the same person twice, exclusions, balance."""

import json
from collections import Counter

import pytest

from ltc.assessments.draw import (
    ALGORITHM,
    Candidate,
    NotEnoughCandidates,
    draw,
    draw_record,
    pick_index,
    replay,
)


def pool(*workloads: int) -> list[Candidate]:
    return [Candidate(user_id=10 + i, name=f"评估员{i}", organisation_id=1 + i % 2,
                      organisation="肥城市人民医院", workload=w)
            for i, w in enumerate(workloads)]


def test_the_same_seed_gives_the_same_pair_whatever_the_order() -> None:
    candidates = pool(0, 0, 0, 0, 0, 0)
    first = draw(candidates, "seed-1")
    assert draw(list(reversed(candidates)), "seed-1") == first
    pairs = {draw(candidates, f"seed-{i}") for i in range(50)}
    assert len(pairs) > 5  # the seed matters


def test_never_the_same_person_twice() -> None:
    for i in range(300):
        a, b = draw(pool(0, 0), f"s{i}")
        assert a != b and {a, b} == {10, 11}
    # Duplicate candidate rows do not make one person count twice.
    with pytest.raises(NotEnoughCandidates):
        draw(pool(0) * 2, "s")


def test_exclusions_are_respected() -> None:
    for i in range(200):
        assert not {10, 11} & set(draw(pool(0, 0, 0, 0), f"s{i}", exclude=[10, 11]))
    with pytest.raises(NotEnoughCandidates) as caught:
        draw(pool(0, 0, 0), "s", exclude=[10, 11])
    assert caught.value.available == 1


@pytest.mark.parametrize("workloads", [(), (3,)])
def test_fewer_than_two_candidates(workloads) -> None:
    with pytest.raises(NotEnoughCandidates):
        draw(pool(*workloads), "s")


def test_the_least_busy_are_drawn_first() -> None:
    # 12 and 14 have the fewest open assessments: they are always the pair.
    for i in range(100):
        assert set(draw(pool(3, 2, 0, 1, 0), f"s{i}")) == {12, 14}
    # One least-busy assessor: the second pick comes from the next tier (13 or 14).
    for i in range(100):
        a, b = draw(pool(3, 2, 0, 1, 1), f"s{i}")
        assert a == 12 and b in {13, 14}


def test_each_of_a_tier_gets_drawn_about_as_often() -> None:
    counts = Counter()
    for i in range(3000):
        counts.update(draw(pool(0, 0, 0, 0, 0, 0), f"s{i}"))
    assert set(counts) == set(range(10, 16))
    assert max(counts.values()) - min(counts.values()) < 0.15 * 1000


def test_workload_evens_out_over_repeated_draws() -> None:
    workloads = [5, 0, 2, 0, 1, 0]
    for i in range(30):
        candidates = pool(*workloads)
        for user_id in draw(candidates, f"s{i}"):
            workloads[user_id - 10] += 1
    assert max(workloads) - min(workloads) <= 1


def test_a_stored_draw_replays_to_its_pair() -> None:
    candidates = pool(1, 0, 0, 2, 0)
    chosen = draw(candidates, "abc123", exclude=[11])
    record = draw_record(candidates, "abc123", [11], chosen)
    stored = json.dumps(record, ensure_ascii=False)
    assert replay(stored) == chosen == tuple(record["chosen"])
    assert replay(record) == chosen
    assert record["algorithm"] == ALGORITHM and record["exclude"] == [11]
    assert [c["user_id"] for c in record["candidates"]] == [10, 11, 12, 13, 14]
    with pytest.raises(ValueError, match="unknown draw algorithm"):
        replay({**record, "algorithm": "python-random"})


def test_pick_index_is_sha256_mod_size() -> None:
    import hashlib

    digest = hashlib.sha256(b"seed:1").digest()
    assert pick_index("seed", 1, 7) == int.from_bytes(digest, "big") % 7
