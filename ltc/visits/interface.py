"""What other parts of LTC read of visits (typed): the family's view of their own visits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from ltc.visits.rules import REVIEW_LABELS, Review
from ltc.visits.tables import Visit


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
