"""What other parts of LTC read of logged visits, as typed values; no other context reads the
visit table: the accepted home visits the return-visit sample draws from, the family's view of
their own visits, and the month the 稽核 rules read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ltc import db
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


@dataclass(frozen=True)
class InspectedVisit:
    """A visit as the 稽核 rules read it (ltc.inspections). `logged_at`: when it was recorded."""

    id: int
    person: int
    provider: int
    staff: int
    started_at: datetime
    ended_at: datetime
    logged_at: datetime
    checkin_latitude: float | None
    checkin_longitude: float | None
    signature_sha256: str | None
    family_confirmed_by: str


_INSPECTED = (Visit.id, Visit.person, Visit.provider, Visit.staff, Visit.started_at,
              Visit.ended_at, Visit.created_at.as_alias("logged_at"), Visit.checkin_latitude,
              Visit.checkin_longitude, Visit.signature_sha256, Visit.family_confirmed_by)


def _standing(region_path: str, first: date, last: date) -> Any:
    return (Visit.region_path.like(f"{region_path}/%")
            & (Visit.visit_on >= first) & (Visit.visit_on <= last)
            & (Visit.superseded == False)  # noqa: E712
            & (Visit.review != str(Review.rejected)))


async def visits_by_staff(region_path: str, first: date, last: date,
                          staff_per_read: int = 500) -> AsyncIterator[list[InspectedVisit]]:
    """The standing visits (not superseded, not rejected) on days `first`..`last` under
    `region_path`, one staff member's at a time, each list in start order. Read a few
    hundred staff members at a time (index visit_staff_visit_on), so a month of a million
    visits is never held at once."""
    standing = _standing(region_path, first, last)
    staff = [r["staff"] for r in await Visit.select(Visit.staff).where(standing).distinct()
             .order_by(Visit.staff)]
    for start in range(0, len(staff), staff_per_read):
        rows = await Visit.select(*_INSPECTED).where(
            standing & db.ids_in(Visit.staff, staff[start:start + staff_per_read])
        ).order_by(Visit.staff, Visit.started_at, Visit.id)
        current: list[InspectedVisit] = []
        for row in rows:
            visit = InspectedVisit(**row)
            if current and current[-1].staff != visit.staff:
                yield current
                current = []
            current.append(visit)
        if current:
            yield current


@dataclass(frozen=True)
class VisitLine:
    """One line of a list of visits shown elsewhere (a 稽核 finding's visits)."""

    id: int
    person: int
    provider: int
    staff: int
    staff_name: str
    started_at: datetime
    ended_at: datetime
    logged_at: datetime
    review: str
    superseded: bool
    family_confirmed_by: str


async def visit_lines(ids: list[int]) -> list[VisitLine]:
    """The visits, in start order. Callers have checked the actor may see them."""
    rows = await Visit.select(
        Visit.id, Visit.person, Visit.provider, Visit.staff,
        Visit.staff.display_name.as_alias("staff_name"), Visit.started_at, Visit.ended_at,
        Visit.created_at.as_alias("logged_at"), Visit.review, Visit.superseded,
        Visit.family_confirmed_by,
    ).where(db.ids_in(Visit.id, ids)).order_by(Visit.started_at).order_by(Visit.id)
    return [VisitLine(**row) for row in rows]


async def sharing_signature(region_path: str, first: date,
                            last: date) -> list[InspectedVisit]:
    """The standing visits of `visits_by_staff` whose signature image (by hash) is also on a
    standing visit of another person in the same days: the database finds the few shared
    hashes, so the rest of the month is never read for this."""
    standing = ("region_path LIKE {} AND visit_on >= {} AND visit_on <= {}"
                " AND superseded = {} AND review <> {}")
    args = (f"{region_path}/%", first, last, False, str(Review.rejected))
    shared = [r["signature_sha256"] for r in await Visit.raw(
        f"SELECT signature_sha256 FROM visit WHERE {standing}"
        " AND signature_sha256 IS NOT NULL GROUP BY signature_sha256"
        " HAVING COUNT(DISTINCT person) > 1", *args)]
    if not shared:
        return []
    rows = await Visit.select(*_INSPECTED).where(
        _standing(region_path, first, last) & Visit.signature_sha256.is_in(shared)).order_by(
        Visit.started_at, Visit.id)
    return [InspectedVisit(**row) for row in rows]


async def standing_ids(ids: list[int]) -> list[int]:
    """Each visit, or — when a provider has corrected it since — the correction that stands
    in its place (following the chain of corrections), without repeats."""
    found: list[int] = []
    current = list(ids)
    while current:
        rows = await Visit.select(Visit.id, Visit.superseded).where(db.ids_in(Visit.id, current))
        superseded = [r["id"] for r in rows if r["superseded"]]
        found += [r["id"] for r in rows if not r["superseded"]]
        current = [r["id"] for r in await Visit.select(Visit.id).where(
            db.ids_in(Visit.revision_of, superseded))] if superseded else []
    return list(dict.fromkeys(found))
