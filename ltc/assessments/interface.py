"""What other parts of LTC may read of assessments (typed; no other context reads the
assessment tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from ltc.assessments.tables import Assessment


async def assessment_ids_of(application_ids: list[int]) -> list[int]:
    """The assessments (first and re-assessments) of these applications."""
    if not application_ids:
        return []
    rows = await Assessment.select(Assessment.id).where(
        Assessment.application.is_in(application_ids)).order_by(Assessment.id)
    return [row["id"] for row in rows]


@dataclass(frozen=True, slots=True)
class ConcludedScores:
    id: int
    person_id: int
    region_path: str
    grade: int
    ruleset_id: int
    scores: str  # JSON, as stored: decoded by the caller that needs it


async def concluded_pages(region_path: str, *, page_size: int = 5000,
                          ) -> AsyncIterator[list[ConcludedScores]]:
    """Every concluded assessment of a region and below, newest first, a page at a time
    (keyset on the id: constant memory, no OFFSET), for re-grading in bulk."""
    from ltc.assessments.rules import AssessmentState

    within = (Assessment.region_path == region_path) | Assessment.region_path.like(
        region_path + "/%")
    before: int | None = None
    while True:
        query = Assessment.select(
            Assessment.id, Assessment.application.person.as_alias("person"),
            Assessment.region_path, Assessment.grade, Assessment.ruleset, Assessment.scores,
        ).where((Assessment.state == str(AssessmentState.CONCLUDED)) & within)
        if before is not None:
            query = query.where(Assessment.id < before)
        rows = await query.order_by(Assessment.id, ascending=False).limit(page_size)
        if not rows:
            return
        yield [ConcludedScores(r["id"], r["person"], r["region_path"], r["grade"],
                               r["ruleset"], r["scores"]) for r in rows]
        before = rows[-1]["id"]


async def ruleset_row(code: str, version: int) -> dict | None:
    """A stored national ruleset version (any state), for a dry run before it is in force."""
    from ltc.assessments.tables import Ruleset

    return await Ruleset.select().where(
        (Ruleset.code == code) & (Ruleset.version == version) & Ruleset.region.is_null()
    ).first()


async def ruleset_keys() -> dict[int, str]:
    """`code@version` of every stored ruleset, by id."""
    from ltc.assessments.tables import Ruleset

    rows = await Ruleset.select(Ruleset.id, Ruleset.code, Ruleset.version)
    return {r["id"]: f"{r['code']}@{r['version']}" for r in rows}
