"""Villages and communities (村居), the lowest level of the region tree: a person's address
and the place a notice is posted. Loaded by `ltc migrate` after the towns, upserting by code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ltc import db
from ltc.regions.tables import Region

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"


def villages_fixture() -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / "villages.json").read_text(encoding="utf-8"))
    return data["villages"]


async def load_villages() -> int:
    """Insert or update every village under its town; the towns must already be loaded."""
    villages = villages_fixture()
    async with db.write_transaction():
        towns = {
            row["code"]: row
            for row in await Region.select(Region.id, Region.code, Region.path).where(
                Region.code.is_in(sorted({v["town"] for v in villages})))
        }
        for village in villages:
            town = towns.get(village["town"])
            if town is None:
                raise RuntimeError(f"village {village['code']}: town {village['town']} is not "
                                   "loaded; load fixtures/regions.json first")
            if not village["code"].startswith(village["town"]):
                raise RuntimeError(f"village {village['code']} does not start with its town "
                                   f"code {village['town']}")
            values = {"name": village["name"], "level": "village", "parent": town["id"],
                      "path": f"{town['path']}/{village['code']}"}
            existing = await Region.select(Region.id).where(
                Region.code == village["code"]).first()
            if existing:
                await Region.update(values).where(Region.id == existing["id"])
            else:
                await Region(code=village["code"], **values).save()
    return len(villages)
