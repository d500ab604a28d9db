"""Reference data for intake: the materials checklist, the designated assessment
organisations, and the acceptance policy numbers."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from ltc import db
from ltc.applications.rules import AcceptancePolicy, Material, Requirement
from ltc.organisations.tables import Organisation
from ltc.policy.service import policy_in_force
from ltc.regions.tables import Region

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


async def load_assessment_organisations() -> int:
    """Insert or update the designated assessment organisations by code. An existing
    organisation keeps its `active` flag: reloading must not undo a deactivation."""
    organisations = _fixture("assessment_organisations.json")["organisations"]
    async with db.write_transaction():
        for organisation in organisations:
            region = await Region.select(Region.id).where(
                Region.code == organisation["region"]).first()
            if region is None:
                raise RuntimeError(f"organisation {organisation['code']}: region "
                                   f"{organisation['region']} is not loaded")
            values = {Organisation.name: organisation["name"],
                      Organisation.kind: organisation["kind"], Organisation.region: region["id"]}
            existing = await Organisation.select(Organisation.id).where(
                Organisation.code == organisation["code"]).first()
            if existing:
                await Organisation.update(values).where(Organisation.id == existing["id"])
            else:
                await Organisation.insert(Organisation(
                    code=organisation["code"], name=organisation["name"],
                    kind=organisation["kind"], region=region["id"]))
    return len(organisations)
