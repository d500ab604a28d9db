"""Reference data for intake: the materials checklist, the designated assessment
organisations, and the acceptance policy numbers."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from ltc.applications.rules import AcceptancePolicy, Material, Requirement
from ltc.policy.service import policy_in_force

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def materials_checklist() -> tuple[Material, ...]:
    """The checklist in display order, from fixtures/materials.json."""
    return tuple(Material(code=m["code"], name=m["name"], required=Requirement(m["required"]))
                 for m in _fixture("materials.json")["materials"])


async def acceptance_policy(region_path: str, on: date) -> AcceptancePolicy:
    """The acceptance numbers of the region's policy version in force on `on`."""
    policy = (await policy_in_force(region_path, on)).policy
    return AcceptancePolicy(min_disability_months=policy.min_disability_months,
                            reapply_months=policy.reapply_months)
