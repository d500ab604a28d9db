"""What other parts of LTC may read of applications (typed; no other context reads the
application tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ltc.applications.tables import Application


@dataclass(frozen=True)
class ApplicationSummary:
    id: int
    number: str
    state: str
    created_at: datetime


async def applications_of(person_id: int) -> list[ApplicationSummary]:
    """A person's applications, newest first. Callers have checked the person is in scope."""
    rows = await (Application.select(Application.id, Application.number, Application.state,
                                     Application.created_at)
                  .where(Application.person == person_id).order_by(Application.id,
                                                                   ascending=False))
    return [ApplicationSummary(**row) for row in rows]
