"""What other parts of LTC read of assessment evidence."""

from __future__ import annotations

from dataclasses import dataclass

from ltc.evidence.tables import EvidenceFile


@dataclass(frozen=True)
class VideoTotals:
    count: int
    seconds: float  # the sum of the durations that could be read
    unknown: int  # videos whose duration could not be read from the file


async def video_totals(assessment_id: int) -> VideoTotals:
    rows = await EvidenceFile.select(EvidenceFile.duration_seconds).where(
        (EvidenceFile.assessment == assessment_id) & (EvidenceFile.kind == "video"))
    known = [r["duration_seconds"] for r in rows if r["duration_seconds"] is not None]
    return VideoTotals(len(rows), sum(known), len(rows) - len(known))


async def video_ids(assessment_ids: list[int]) -> set[int]:
    """The evidence ids of the videos of these assessments."""
    rows = await EvidenceFile.select(EvidenceFile.id).where(
        EvidenceFile.assessment.is_in(assessment_ids or [0])
        & (EvidenceFile.kind == "video"))
    return {r["id"] for r in rows}
