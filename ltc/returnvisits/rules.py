"""Return-visit sampling (回访抽样): how many of a provider's accepted home visits of a month
the agency calls back, which ones, how to replay a stored draw, and what a clerk may record.
No I/O.

The sample of one region's month, stored with every draw as `algorithm` so an auditor can
replay it by hand:

1. Candidates are the home visits of the month accepted in review (the service finds them),
   each naming its provider, sorted by visit id.
2. Size, per provider: the policy rate (basis points, 500 = 5 %) of its visits rounded up
   (ltc.spotchecks.rules.sample_size), but never fewer than the policy minimum — and never
   more than the provider's visits.
3. Providers in ascending id order; within one, pick k (k = 1, 2, … counted across all
   providers) takes index int(SHA-256(f"{seed}:{k}"), big-endian) mod (the provider's
   visits not yet picked) — the hash of the assessor draw (ltc.assessments.draw).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from ltc.assessments.draw import pick_index
from ltc.spotchecks.rules import sample_size as rate_of

ALGORITHM = "per-provider-rate-minimum/sha256-v1"
NOTE_LIMIT = 500
SATISFACTION = range(1, 6)


class CallState(StrEnum):
    PENDING = "PENDING"  # drawn, waiting for a clerk's call
    RECORDED = "RECORDED"  # the call's result is recorded

    @property
    def label(self) -> str:
        return {"PENDING": "待回访", "RECORDED": "已回访"}[self.value]


class Outcome(StrEnum):
    confirmed = "confirmed"  # the family confirms the visit took place as logged
    denied = "denied"  # the family says it did not (the visit goes back to review)
    unreachable = "unreachable"  # nobody answered

    @property
    def label(self) -> str:
        return {"confirmed": "确认属实", "denied": "否认服务",
                "unreachable": "无法联系"}[self.value]

    @property
    def reached(self) -> bool:
        return self is not Outcome.unreachable


@dataclass(frozen=True)
class Candidate:
    visit_id: int
    provider_id: int


def sample_size(visits: int, rate_basis_points: int, minimum: int) -> int:
    """Step 2: how many of one provider's `visits` are called back."""
    return min(visits, max(minimum, rate_of(visits, rate_basis_points)))


def draw(candidates: Iterable[Candidate], seed: str, rate_basis_points: int,
         minimum: int) -> list[int]:
    """The chosen visit ids, in the order they were picked."""
    by_provider: dict[int, list[int]] = {}
    for c in sorted(candidates, key=lambda c: c.visit_id):
        by_provider.setdefault(c.provider_id, []).append(c.visit_id)
    chosen: list[int] = []
    pick = 0
    for provider in sorted(by_provider):
        remaining = list(by_provider[provider])
        for _ in range(sample_size(len(remaining), rate_basis_points, minimum)):
            pick += 1
            chosen.append(remaining.pop(pick_index(seed, pick, len(remaining))))
    return chosen


def draw_record(candidates: Iterable[Candidate], seed: str, rate_basis_points: int,
                minimum: int, chosen: list[int]) -> dict[str, Any]:
    """What is stored with the month's draw: enough to replay it without the database."""
    return {
        "algorithm": ALGORITHM, "seed": seed, "rate_basis_points": rate_basis_points,
        "minimum": minimum,
        "candidates": [asdict(c) for c in sorted(candidates, key=lambda c: c.visit_id)],
        "chosen": chosen,
    }


def replay(record_json: str | dict[str, Any]) -> list[int]:
    """Re-run a stored draw; an auditor compares the result with its `chosen`."""
    record = json.loads(record_json) if isinstance(record_json, str) else record_json
    if record.get("algorithm") != ALGORITHM:
        raise ValueError(f"unknown return-visit algorithm {record.get('algorithm')!r}")
    return draw([Candidate(c["visit_id"], c["provider_id"]) for c in record["candidates"]],
                record["seed"], record["rate_basis_points"], record["minimum"])


def result_problems(outcome: str, satisfaction: str, note: str) -> dict[str, str]:
    """Every problem of a clerk's entry at once, by form field. Satisfaction is asked only
    when the family was reached (unreachable ignores it)."""
    problems: dict[str, str] = {}
    if outcome not in {o.value for o in Outcome}:
        problems["outcome"] = "请选择回访结果：确认属实、否认服务或无法联系"
    reached = outcome in {Outcome.confirmed, Outcome.denied}
    score = (satisfaction or "").strip()
    if reached and not (score.isascii() and score.isdigit() and int(score) in SATISFACTION):
        problems["satisfaction"] = "联系上家属时，请选择满意度（1至5分）"
    if outcome == Outcome.denied and not note.strip():
        problems["note"] = "家属否认服务时，请写明家属的说法（哪天、哪些项目没有做）"
    elif len(note.strip()) > NOTE_LIMIT:
        problems["note"] = f"备注请控制在{NOTE_LIMIT}字以内"
    return problems


def call_script(*, person: str, provider: str, staff: str, visit_on: date,
                items: list[str]) -> list[str]:
    """话术: what the clerk says, line by line."""
    day = f"{visit_on.month}月{visit_on.day}日"
    return [
        f"您好，我是医保局长期护理保险经办机构的工作人员，请问是{person}的家属吗？",
        f"我们做服务回访：{provider}登记了{day}由{staff}上门提供护理服务，"
        "想和您核实一下，占用您两分钟。",
        f"请问{day}{staff}是否到家里提供了服务？",
        "登记的服务项目有：" + ("、".join(items) if items else "（未登记项目）")
        + "。这些项目都做了吗？",
        "您对这次服务满意吗？请从1到5分打分，5分为非常满意。",
        "感谢您的配合！如有问题可随时拨打医保局咨询电话。",
    ]


def reached_rate(confirmed: int, reached: int) -> str:
    """确认率 as shown: "—" before anyone was reached."""
    return "—" if reached == 0 else f"{confirmed * 100 / reached:.1f}%"


@dataclass(frozen=True)
class SampleResults:
    """One provider's return visits of a month, for its evaluation."""

    sampled: int = 0
    reached: int = 0
    confirmed: int = 0
    denied: int = 0

    @classmethod
    def of(cls, counts: dict[str, int]) -> SampleResults:
        """From {outcome or "" (waiting): count}."""
        return cls(sampled=sum(counts.values()),
                   reached=counts.get(Outcome.confirmed, 0) + counts.get(Outcome.denied, 0),
                   confirmed=counts.get(Outcome.confirmed, 0),
                   denied=counts.get(Outcome.denied, 0))

    @property
    def confirmed_rate(self) -> str:
        return reached_rate(self.confirmed, self.reached)

    def as_row(self) -> dict[str, Any]:
        """The evaluation row's return-visit columns."""
        return {"returns_sampled": self.sampled, "returns_reached": self.reached,
                "returns_confirmed": self.confirmed, "returns_denied": self.denied,
                "returns_confirmed_rate": self.confirmed_rate}
