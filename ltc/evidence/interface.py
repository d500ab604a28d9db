"""What other parts of LTC read of assessment evidence."""

from __future__ import annotations

from ltc.evidence.tables import EvidenceFile


async def video_count(assessment_id: int) -> int:
    return await EvidenceFile.count().where(
        (EvidenceFile.assessment == assessment_id) & (EvidenceFile.kind == "video"))
