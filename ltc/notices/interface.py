"""What other parts of LTC may read of public notices (typed)."""

from __future__ import annotations

from dataclasses import dataclass

from ltc import documents
from ltc.notices.tables import NoticeBatch, NoticeEntry

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
