"""What other parts of LTC read of logged visits, as typed values: the accepted home visits
the return-visit sample draws from, and the family's view of their own visits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from ltc.careplans.service import catalogue
from ltc.visits.queries import _label
from ltc.visits.rules import ACCEPTED, REVIEW_LABELS, Review
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


@dataclass(frozen=True)
class PersonVisit:
    """A logged visit as the family sees it: who came, when, how long, which items."""

    id: int
    visit_on: date
    started_at: datetime
    ended_at: datetime
    staff_name: str
    provider_name: str
    items: tuple[str, ...]
    review_label: str
    disputable: bool  # a concern would reopen it (not rejected)

    @property
    def minutes(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds() // 60)


_COLUMNS = (Visit.id, Visit.visit_on, Visit.started_at, Visit.ended_at, Visit.items,
            Visit.review, Visit.staff.display_name, Visit.provider.name)


def _visit(row: dict) -> PersonVisit:
    return PersonVisit(
        row["id"], row["visit_on"], row["started_at"], row["ended_at"],
        row["staff.display_name"] or "", row["provider.name"] or "",
        tuple(json.loads(row["items"])), REVIEW_LABELS[Review(row["review"])],
        row["review"] != Review.rejected)


async def visits_of_person(person_id: int, first: date, last: date) -> list[PersonVisit]:
    """The person's visits (corrections replace what they correct) between two days, newest
    first."""
    rows = await Visit.select(*_COLUMNS).where(
        (Visit.person == person_id) & Visit.superseded.eq(False)
        & (Visit.visit_on >= first) & (Visit.visit_on <= last)).order_by(
        Visit.started_at, ascending=False)
    return [_visit(r) for r in rows]


async def visit_of_person(person_id: int, visit_id: int) -> PersonVisit | None:
    """The visit if it is the person's and not replaced by a correction; None otherwise (one
    answer for "not theirs" and "does not exist")."""
    row = await Visit.select(*_COLUMNS).where(
        (Visit.id == visit_id) & (Visit.person == person_id)
        & Visit.superseded.eq(False)).first()
    return _visit(row) if row else None
