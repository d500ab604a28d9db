"""Drawing two assessors: reproducible, never the same person twice, exclusions, balance."""

import json
from collections import Counter

import pytest

from ltc.assessments.draw import (
    ALGORITHM,
    ALGORITHM_V1,
    Candidate,
    NoExpert,
    NotEnoughCandidates,
    draw,
    draw_record,
    exclusion_summary,
    pick_index,
    replay,
)


def pool(*workloads: int, experts: set[int] | None = None) -> list[Candidate]:
    """Candidates 10, 11, … with these workloads; all experts unless `experts` names them."""
    return [Candidate(user_id=10 + i, name=f"评估员{i}", organisation_id=1 + i % 2,
                      organisation="肥城市人民医院", workload=w,
                      expert=experts is None or 10 + i in experts)
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
    record = draw_record(candidates, "abc123", {11: ["took_part"]}, chosen)
    stored = json.dumps(record, ensure_ascii=False)
    assert replay(stored) == chosen == tuple(record["chosen"])
    assert replay(record) == chosen
    assert record["algorithm"] == ALGORITHM and record["exclude"] == [11]
    assert record["exclusions"] == [{"user_id": 11, "reasons": ["took_part"]}]
    assert [c["user_id"] for c in record["candidates"]] == [10, 11, 12, 13, 14]
    with pytest.raises(ValueError, match="unknown draw algorithm"):
        replay({**record, "algorithm": "python-random"})


def test_pick_index_is_sha256_mod_size() -> None:
    import hashlib

    digest = hashlib.sha256(b"seed:1").digest()
    assert pick_index("seed", 1, 7) == int.from_bytes(digest, "big") % 7


# --- v2: at least one valid expert (29号) -----------------------------------------------------

def test_an_expert_is_always_drawn_first_over_many_seeds_and_pools() -> None:
    for n in range(2, 8):
        for i in range(60):
            experts = {10 + (i * 7 + k) % n for k in range(1 + i % 2)}
            workloads = [(i * 3 + k) % 4 for k in range(n)]
            chosen = draw(pool(*workloads, experts=experts), f"s{n}-{i}")
            assert chosen[0] in experts and len(set(chosen)) == 2


def test_the_expert_pick_uses_the_experts_own_fewest_open_tier() -> None:
    # 12 is the least busy of all but not an expert: the expert pick is 13 (fewest among
    # experts), the second pick the least busy of the rest, 12.
    for i in range(50):
        assert draw(pool(3, 2, 0, 1, 4, experts={11, 13, 14}), f"s{i}") == (13, 12)


@pytest.mark.parametrize(("experts", "exclude", "drawn"), [
    ({10}, [], True),
    ({10}, [10], False),  # the only expert is excluded
    (set(), [], False),
    ({10, 11}, [10], True),
])
def test_no_valid_expert_left_is_refused(experts, exclude, drawn) -> None:
    candidates = pool(0, 0, 0, experts=experts)
    if drawn:
        assert set(draw(candidates, "s", exclude)) & (experts - set(exclude))
    else:
        with pytest.raises(NoExpert):
            draw(candidates, "s", exclude)


def test_too_few_is_reported_before_a_missing_expert() -> None:
    with pytest.raises(NotEnoughCandidates):
        draw(pool(0, experts=set()), "s")


def test_a_replacement_seat_needs_an_expert_only_when_asked() -> None:
    candidates = pool(0, 0, 0, experts={12})
    assert {draw(candidates, f"s{i}", seats=1, need_expert=True) for i in range(30)} == {
        (12,)}
    assert {draw(candidates, f"s{i}", seats=1, need_expert=False)[0]
            for i in range(60)} == {10, 11, 12}


def test_a_v1_record_replays_without_experts() -> None:
    # As stored before issue 12: no expert flags, no seats, v1 algorithm.
    candidates = [{"user_id": 10 + i, "name": f"评估员{i}", "organisation_id": 1,
                   "organisation": "肥城市人民医院", "workload": w}
                  for i, w in enumerate((1, 0, 0, 2, 0))]
    record = {"algorithm": ALGORITHM_V1, "seed": "abc123", "exclude": [11],
              "candidates": candidates}
    plain = [Candidate(**c) for c in candidates]
    expected = draw(plain, "abc123", [11], need_expert=False)
    assert replay(json.dumps(record)) == expected
    # The v1 method by hand: 12 and 14 share the fewest-open tier.
    tier = [12, 14]
    first = tier[pick_index("abc123", 1, 2)]
    assert expected == (first, next(t for t in tier if t != first))


def test_a_v2_record_replays_with_its_seats_and_expert_rule() -> None:
    candidates = pool(0, 0, 1, 0, experts={13})
    chosen = draw(candidates, "seed-x", [10])
    record = draw_record(candidates, "seed-x", {10: ["conflict", "care_provider"]}, chosen)
    assert chosen[0] == 13 and replay(json.dumps(record)) == chosen
    assert record["exclusions"] == [{"user_id": 10, "reasons": ["care_provider", "conflict"]}]
    one = draw(candidates, "seed-y", [10, 13], seats=1, need_expert=False)
    single = draw_record(candidates, "seed-y", {10: ["conflict"], 13: ["on_case"]}, one,
                         need_expert=False)
    assert (single["seats"], single["need_expert"]) == (1, False)
    assert replay(single) == one


def test_the_exclusion_summary_counts_each_reason() -> None:
    assert exclusion_summary({10: ["took_part"], 11: ["took_part", "excluded_organisation"],
                              12: ["conflict"]}) == (
        "参与过首次评估2名、所在机构须回避（作出原评估的机构）1名、已申报与被评估人回避1名")
    assert exclusion_summary({}) == ""
