"""Drawing assessors at random, balanced by workload, with an expert, reproducibly. No I/O.

The method, stored with every draw as `algorithm` so an auditor can replay it by hand.
Version 2 ("expert-first-fewest-open-tier/sha256-v2", since issue 12, 29号):

1. Candidates are the eligible assessors (the service decides who is eligible), each marked
   `expert` when their 评估专家 qualification is valid on the day of the draw (the last valid
   day included), minus the excluded ones, sorted by user id. The record lists every
   exclusion with its reasons (`exclusions`): the assessors of the first assessment and its
   organisation (复评), the person's current care provider's staff, declared conflicts
   (回避), someone already on the case.
2. Pick k (k = 1 … seats; two seats for a new assessment, one for a replacement after a
   withdrawal) is made among the remaining candidates with the FEWEST open assessments (a
   tier, not a weighting: the least busy always go first, so workload evens out quickly).
   When the record says `need_expert`, pick 1 is made among the remaining EXPERTS only (their
   own fewest-open tier), so every team has at least one; the later picks among everyone left.
3. Within that tier, pick k takes the candidate at index
   int(SHA-256(f"{seed}:{k}"), big-endian) mod (tier size).
   SHA-256 rather than Python's `random`, so the replay does not depend on one language's
   random-number generator staying the same for years.
4. Each pick is removed before the next, so nobody is drawn twice.

Version 1 ("fewest-open-tier/sha256-v1", draws stored before issue 12) is the same without
experts: two seats, both picks among everyone. `replay` re-runs either version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

ALGORITHM_V1 = "fewest-open-tier/sha256-v1"
ALGORITHM = "expert-first-fewest-open-tier/sha256-v2"

# Why an assessor was left out of a draw: stored by code, shown in Chinese.
EXCLUSION_REASONS = {
    "took_part": "参与过首次评估",
    "excluded_organisation": "所在机构须回避（作出原评估的机构）",
    "care_provider": "所在机构是被评估人当前的护理服务机构",
    "conflict": "已申报与被评估人回避",
    "on_case": "已是本次评估的评估人员",
}


@dataclass(frozen=True)
class Candidate:
    user_id: int
    name: str
    organisation_id: int
    organisation: str
    workload: int  # open assessments: ASSIGNED, IN_PROGRESS, RETURNED, SUBMITTED
    expert: bool = False  # a valid 评估专家 on the day of the draw (v2)


class NotEnoughCandidates(ValueError):
    def __init__(self, available: int, needed: int = 2) -> None:
        self.available = available
        super().__init__(f"{available} eligible assessor(s); {needed} are needed")


class NoExpert(ValueError):
    """Enough candidates, but none is a valid expert."""


def pick_index(seed: str, pick: int, size: int) -> int:
    digest = hashlib.sha256(f"{seed}:{pick}".encode()).digest()
    return int.from_bytes(digest, "big") % size


def draw(candidates: Iterable[Candidate], seed: str, exclude: Iterable[int] = (), *,
         seats: int = 2, need_expert: bool = True) -> tuple[int, ...]:
    """The chosen user ids, in pick order (`seats` of them)."""
    excluded = set(exclude)
    by_id = {c.user_id: c for c in candidates if c.user_id not in excluded}
    pool = [by_id[user_id] for user_id in sorted(by_id)]
    if len(pool) < seats:
        raise NotEnoughCandidates(len(pool), seats)
    if need_expert and not any(c.expert for c in pool):
        raise NoExpert("no valid expert among the candidates")
    chosen: list[int] = []
    for pick in range(1, seats + 1):
        remaining = [c for c in pool if c.user_id not in chosen
                     and (c.expert or not (need_expert and pick == 1))]
        fewest = min(c.workload for c in remaining)
        tier = [c for c in remaining if c.workload == fewest]
        chosen.append(tier[pick_index(seed, pick, len(tier))].user_id)
    return tuple(chosen)


def draw_record(candidates: Iterable[Candidate], seed: str,
                exclusions: Mapping[int, Iterable[str]], chosen: tuple[int, ...], *,
                need_expert: bool = True) -> dict[str, Any]:
    """What is stored in Assessment.draw: enough to replay the draw without the database.
    `exclusions`: user id → reason codes (EXCLUSION_REASONS)."""
    return {
        "algorithm": ALGORITHM,
        "seed": seed,
        "seats": len(chosen),
        "need_expert": need_expert,
        "exclude": sorted(exclusions),
        "exclusions": [{"user_id": user_id, "reasons": sorted(set(exclusions[user_id]))}
                       for user_id in sorted(exclusions)],
        "candidates": [asdict(c) for c in sorted(candidates, key=lambda c: c.user_id)],
        "chosen": list(chosen),
    }


def replay(draw_json: str | dict[str, Any]) -> tuple[int, ...]:
    """Re-run a stored draw (v1 or v2); an auditor compares the result with its `chosen`."""
    record = json.loads(draw_json) if isinstance(draw_json, str) else draw_json
    algorithm = record.get("algorithm")
    if algorithm not in (ALGORITHM, ALGORITHM_V1):
        raise ValueError(f"unknown draw algorithm {algorithm!r}")
    candidates = [Candidate(**c) for c in record["candidates"]]
    if algorithm == ALGORITHM_V1:
        return draw(candidates, record["seed"], record["exclude"], need_expert=False)
    return draw(candidates, record["seed"], record["exclude"], seats=record["seats"],
                need_expert=record["need_expert"])


def exclusion_summary(exclusions: Mapping[int, Iterable[str]]) -> str:
    """How many were left out for each reason, e.g. "参与过首次评估2名、已申报与被评估人回避1名"."""
    counts: dict[str, int] = {}
    for reasons in exclusions.values():
        for reason in set(reasons):
            counts[reason] = counts.get(reason, 0) + 1
    return "、".join(f"{EXCLUSION_REASONS.get(code, code)}{counts[code]}名"
                    for code in EXCLUSION_REASONS if code in counts)
