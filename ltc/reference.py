"""Reference data from fixtures/: loaded by `ltc migrate` and `ltc demo` (whose county is
built by ltc.demo).

Reference loading is idempotent (upsert by code), so it runs on every deploy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ltc import db
from ltc.regions.tables import Region

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


async def load_regions() -> int:
    """Insert or update the region tree; parents come before children in the fixture."""
    regions = _fixture("regions.json")["regions"]
    async with db.write_transaction():
        for region in regions:
            parent = None
            path = region["code"]
            if region["parent"]:
                parent = await Region.select().where(Region.code == region["parent"]).first()
                path = f"{parent['path']}/{region['code']}"
            values = {"name": region["name"], "level": region["level"],
                      "parent": parent["id"] if parent else None, "path": path}
            existing = await Region.select(Region.id).where(Region.code == region["code"]).first()
            if existing:
                await Region.update(values).where(Region.id == existing["id"])
            else:
                await Region(code=region["code"], **values).save()
    return len(regions)


async def load_reference_data() -> None:
    from ltc.assessments.reference import load_rulesets
    from ltc.careplans.reference import load_care_items
    from ltc.organisations.reference import load_assessment_organisations
    from ltc.policy.service import load_policies
    from ltc.regions.reference import load_villages

    await load_regions()
    await load_villages()
    await load_assessment_organisations()
    await load_rulesets()
    await load_care_items()  # before the policies: their care packages name these items
    await load_policies()
