"""Drawing two assessors at random, balanced by workload, reproducibly. No I/O.

The method, stored with every draw as `algorithm` so an auditor can replay it by hand:

1. Candidates are the eligible assessors (the service decides who is eligible), minus the
   excluded ones (e.g. the assessors of an earlier assessment), sorted by user id.
2. Each of the two picks is made among the remaining candidates with the FEWEST open
   assessments (a tier, not a weighting: the least busy always go first, so workload evens
   out quickly and the rule is easy to explain).
3. Within that tier, pick k (k = 1, 2) takes the candidate at index
   int(SHA-256(f"{seed}:{k}"), big-endian) mod (tier size).
   SHA-256 rather than Python's `random`, so the replay does not depend on one language's
   random-number generator staying the same for years.
4. The first pick is removed before the second, so nobody is drawn twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

ALGORITHM = "fewest-open-tier/sha256-v1"


@dataclass(frozen=True)
class Candidate:
    user_id: int
    name: str
    organisation_id: int
    organisation: str
    workload: int  # open assessments: ASSIGNED, IN_PROGRESS, RETURNED, SUBMITTED


class NotEnoughCandidates(ValueError):
    def __init__(self, available: int) -> None:
        self.available = available
        super().__init__(f"{available} eligible assessor(s); two are needed")


def pick_index(seed: str, pick: int, size: int) -> int:
    digest = hashlib.sha256(f"{seed}:{pick}".encode()).digest()
    return int.from_bytes(digest, "big") % size


def draw(candidates: Iterable[Candidate], seed: str,
         exclude: Iterable[int] = ()) -> tuple[int, int]:
    """The two chosen user ids, first and second pick."""
    excluded = set(exclude)
    by_id = {c.user_id: c for c in candidates if c.user_id not in excluded}
    pool = [by_id[user_id] for user_id in sorted(by_id)]
    if len(pool) < 2:
        raise NotEnoughCandidates(len(pool))
    chosen: list[int] = []
    for pick in (1, 2):
        remaining = [c for c in pool if c.user_id not in chosen]
        fewest = min(c.workload for c in remaining)
        tier = [c for c in remaining if c.workload == fewest]
        chosen.append(tier[pick_index(seed, pick, len(tier))].user_id)
    return chosen[0], chosen[1]


def draw_record(candidates: Iterable[Candidate], seed: str, exclude: Iterable[int],
                chosen: tuple[int, int]) -> dict[str, Any]:
    """What is stored in Assessment.draw: enough to replay the draw without the database."""
    return {
        "algorithm": ALGORITHM,
        "seed": seed,
        "exclude": sorted(set(exclude)),
        "candidates": [asdict(c) for c in sorted(candidates, key=lambda c: c.user_id)],
        "chosen": list(chosen),
    }


def replay(draw_json: str | dict[str, Any]) -> tuple[int, int]:
    """Re-run a stored draw; an auditor compares the result with its `chosen`."""
    record = json.loads(draw_json) if isinstance(draw_json, str) else draw_json
    if record.get("algorithm") != ALGORITHM:
        raise ValueError(f"unknown draw algorithm {record.get('algorithm')!r}")
    candidates = [Candidate(**c) for c in record["candidates"]]
    return draw(candidates, record["seed"], record["exclude"])
