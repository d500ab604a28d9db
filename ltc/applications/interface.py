"""What other parts of LTC may read of applications (typed; no other context reads the
application tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ltc import db, documents
from ltc.applications.tables import Application

# Where the hashes of the letters answering applications are recorded (`ltc evidence verify`).
DOCUMENTS = (
    documents.Source("补正材料通知书", Application.materials_notice_sha256, Application.number),
    documents.Source("不予受理告知书", Application.refusal_letter_sha256, Application.number),
)


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


@dataclass(frozen=True)
class OpenCase:
    person_id: int
    application_id: int
    number: str
    state: str
    origin: str  # applicant | regrading


async def open_cases_of(person_ids: list[int]) -> dict[int, OpenCase]:
    """Each person's application in progress, if any (at most one per person)."""
    from ltc.applications.rules import OPEN_STATES

    found: dict[int, OpenCase] = {}
    for start in range(0, len(person_ids), 2000):
        chunk = person_ids[start:start + 2000]
        rows = await Application.select(
            Application.id, Application.person, Application.number, Application.state,
            Application.origin).where(
            db.ids_in(Application.person, chunk)
            & Application.state.is_in([str(s) for s in OPEN_STATES]))
        for row in rows:
            found[row["person"]] = OpenCase(row["person"], row["id"], row["number"],
                                            row["state"], row["origin"])
    return found
