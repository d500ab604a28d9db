"""Spot checks of concluded assessments (抽查, 医保发〔2023〕29号): how many to draw from a
month, which ones, and how to replay a stored draw. No I/O.

The sample of one region's month, stored with every draw as `algorithm` so an auditor can
replay it by hand:

1. Candidates are the assessments concluded in the month (the service finds them), sorted by
   assessment id; each names the organisations of its two assessors.
2. Size: the policy rate (basis points, 500 = 5 %) of the candidates, rounded UP, so any month
   with a conclusion has at least one check — and never fewer than step 3 needs.
3. Cover: for each organisation in ascending id order that no pick covers yet, one pick among
   the candidates it took part in. So every organisation that concluded anything is checked
   at least once, even when the rate alone would sample fewer.
4. Fill: further picks among the remaining candidates until the size of step 2 is reached.
5. Pick k (k = 1, 2, … across steps 3 and 4) takes index
   int(SHA-256(f"{seed}:{k}"), big-endian) mod (size of the list it picks from) — the same
   hash as the assessor draw (ltc.assessments.draw), not a language's random generator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from ltc.assessments.draw import pick_index

ALGORITHM = "organisation-cover-then-fill/sha256-v1"
BASIS_POINTS = 10_000  # 100 %
NOTES_LIMIT = 1000


class SpotCheckState(StrEnum):
    PENDING = "PENDING"  # drawn, waiting for an expert
    RECORDED = "RECORDED"  # an expert recorded 符合 / 不符合

    @property
    def label(self) -> str:
        return {"PENDING": "待抽查", "RECORDED": "已抽查"}[self.value]


class Finding(StrEnum):
    conform = "conform"  # 符合: the record and video support the conclusion
    nonconform = "nonconform"  # 不符合: a new assessment by another organisation follows

    @property
    def label(self) -> str:
        return {"conform": "符合", "nonconform": "不符合"}[self.value]


@dataclass(frozen=True)
class Candidate:
    assessment_id: int
    organisation_ids: tuple[int, ...]  # of the two assessors, distinct, ascending


def sample_size(population: int, rate_basis_points: int) -> int:
    """Step 2: the rate of the population, rounded up (integer arithmetic, no float)."""
    return -(-population * rate_basis_points // BASIS_POINTS)


def draw(candidates: Iterable[Candidate], seed: str, rate_basis_points: int) -> list[int]:
    """The chosen assessment ids, in the order they were picked."""
    pool = sorted(candidates, key=lambda c: c.assessment_id)
    target = min(len(pool), sample_size(len(pool), rate_basis_points))
    chosen: list[Candidate] = []
    pick = 0
    for organisation in sorted({o for c in pool for o in c.organisation_ids}):
        if any(organisation in c.organisation_ids for c in chosen):
            continue
        pick += 1
        tier = [c for c in pool if organisation in c.organisation_ids and c not in chosen]
        chosen.append(tier[pick_index(seed, pick, len(tier))])
    while len(chosen) < target:
        pick += 1
        remaining = [c for c in pool if c not in chosen]
        chosen.append(remaining[pick_index(seed, pick, len(remaining))])
    return [c.assessment_id for c in chosen]


def draw_record(candidates: Iterable[Candidate], seed: str, rate_basis_points: int,
                chosen: list[int]) -> dict[str, Any]:
    """What is stored with the month's draw: enough to replay it without the database."""
    return {
        "algorithm": ALGORITHM,
        "seed": seed,
        "rate_basis_points": rate_basis_points,
        "candidates": [asdict(c) for c in sorted(candidates, key=lambda c: c.assessment_id)],
        "chosen": chosen,
    }


def replay(record_json: str | dict[str, Any]) -> list[int]:
    """Re-run a stored draw; an auditor compares the result with its `chosen`."""
    record = json.loads(record_json) if isinstance(record_json, str) else record_json
    if record.get("algorithm") != ALGORITHM:
        raise ValueError(f"unknown spot-check algorithm {record.get('algorithm')!r}")
    candidates = [Candidate(c["assessment_id"], tuple(c["organisation_ids"]))
                  for c in record["candidates"]]
    return draw(candidates, record["seed"], record["rate_basis_points"])


def finding_problems(finding: str, notes: str) -> dict[str, str]:
    """Every problem of an expert's entry at once, by form field."""
    problems: dict[str, str] = {}
    if finding not in {f.value for f in Finding}:
        problems["finding"] = "请选择抽查结论：符合或不符合"
    if finding == Finding.nonconform and not notes.strip():
        problems["notes"] = "结论为不符合时必须写明理由（哪些项目与记录或视频不符）"
    elif len(notes.strip()) > NOTES_LIMIT:
        problems["notes"] = f"说明请控制在{NOTES_LIMIT}字以内"
    return problems


def conformity_rate(conform: int, recorded: int) -> str:
    """符合率 as shown in the summary: "—" before anything is recorded."""
    if recorded == 0:
        return "—"
    return f"{conform * 100 / recorded:.1f}%"
