"""The designated assessment organisations shipped in fixtures/ (loaded by `ltc migrate`)."""

from __future__ import annotations

import json
from pathlib import Path

from ltc import db
from ltc.organisations.tables import Organisation
from ltc.regions import interface as regions

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"


async def load_assessment_organisations() -> int:
    """Insert or update the designated assessment organisations by code. An existing
    organisation keeps its `active` flag: reloading must not undo a deactivation."""
    organisations = json.loads((FIXTURES / "assessment_organisations.json").read_text(
        encoding="utf-8"))["organisations"]
    async with db.write_transaction():
        for organisation in organisations:
            region = await regions.by_code(organisation["region"])
            if region is None:
                raise RuntimeError(f"organisation {organisation['code']}: region "
                                   f"{organisation['region']} is not loaded")
            values = {Organisation.name: organisation["name"],
                      Organisation.kind: organisation["kind"], Organisation.region: region.id}
            existing = await Organisation.select(Organisation.id).where(
                Organisation.code == organisation["code"]).first()
            if existing:
                await Organisation.update(values).where(Organisation.id == existing["id"])
            else:
                await Organisation.insert(Organisation(
                    code=organisation["code"], name=organisation["name"],
                    kind=organisation["kind"], region=region.id))
    return len(organisations)
