"""What other parts of LTC read of logged visits, as typed values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from ltc.careplans.service import catalogue
from ltc.visits.queries import _label
from ltc.visits.rules import ACCEPTED
from ltc.visits.tables import Visit


@dataclass(frozen=True)
class AcceptedVisit:
    id: int
    provider_id: int
    person_id: int
    region_path: str


async def accepted_home_visits(region_path: str, first: date, last: date
                               ) -> list[AcceptedVisit]:
    """The home visits of a region (and below) on days first…last that stand accepted in
    review (not superseded by a correction), by id."""
    within = (Visit.region_path == region_path) | Visit.region_path.like(region_path + "/%")
    rows = await Visit.select(Visit.id, Visit.provider, Visit.person, Visit.region_path).where(
        within & (Visit.service_type == "home_visit") & Visit.superseded.eq(False)
        & Visit.review.is_in([str(r) for r in ACCEPTED])
        & (Visit.visit_on >= first) & (Visit.visit_on <= last)).order_by(Visit.id)
    return [AcceptedVisit(r["id"], r["provider"], r["person"], r["region_path"]) for r in rows]


async def item_labels(items_json: list[str]) -> list[list[str]]:
    """Each visit's `items` (as stored, JSON) as Chinese labels: 口腔清洁（B08）."""
    known = await catalogue()
    return [[_label(known, code) for code in json.loads(items)] for items in items_json]
