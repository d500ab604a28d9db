"""What other parts of LTC may read of public notices (typed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ltc import documents
from ltc.notices.tables import NoticeBatch, NoticeEntry, Objection

# Where the hashes of generated notices are recorded (checked by `ltc evidence verify`).
DOCUMENTS = (documents.Source("公示", NoticeBatch.document_sha256, NoticeBatch.number),)


@dataclass(frozen=True)
class NoticeEntrySummary:
    id: int
    batch_number: str
    outcome: str


async def entries_of(person_id: int) -> list[NoticeEntrySummary]:
    """The person's entries on notices, in the order they were noticed."""
    rows = await NoticeEntry.select(NoticeEntry.id, NoticeEntry.batch.number,
                                    NoticeEntry.outcome).where(
        NoticeEntry.person == person_id).order_by(NoticeEntry.id)
    return [NoticeEntrySummary(id=r["id"], batch_number=r["batch.number"], outcome=r["outcome"])
            for r in rows]


@dataclass(frozen=True)
class CaseNoticeEntry:
    """One entry of a case on a notice, with its batch and how many objections it drew."""

    id: int
    batch_id: int
    batch_number: str
    batch_state: str
    ends_on: date | None
    outcome: str
    objections: int
    reassessment_assigned: bool


async def entries_of_application(application_id: int) -> list[CaseNoticeEntry]:
    """The application's entries on notices (a re-assessment may be noticed again), in the
    order they were noticed."""
    rows = await NoticeEntry.select(
        NoticeEntry.id, NoticeEntry.batch, NoticeEntry.batch.number, NoticeEntry.batch.state,
        NoticeEntry.batch.ends_on, NoticeEntry.outcome, NoticeEntry.reassessment).where(
        NoticeEntry.application == application_id).order_by(NoticeEntry.id)
    counted: dict[int, int] = {}
    if rows:
        for objection in await Objection.select(Objection.entry).where(
                Objection.entry.is_in([r["id"] for r in rows])):
            counted[objection["entry"]] = counted.get(objection["entry"], 0) + 1
    return [CaseNoticeEntry(id=r["id"], batch_id=r["batch"], batch_number=r["batch.number"],
                            batch_state=r["batch.state"], ends_on=r["batch.ends_on"],
                            outcome=r["outcome"], objections=counted.get(r["id"], 0),
                            reassessment_assigned=r["reassessment"] is not None)
            for r in rows]
