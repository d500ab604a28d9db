"""What other parts of LTC may read of public notices (typed)."""

from __future__ import annotations

from dataclasses import dataclass

from ltc.notices.tables import NoticeEntry


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
