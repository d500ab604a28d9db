"""What other parts of LTC may read of assessments (typed; no other context reads the
assessment tables)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from piccolo.query import Select

from ltc import clock, db
from ltc.assessments import experts
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment, AssessorConflict, ExpertConfirmation
from ltc.identity import Actor


async def assessment_ids_of(application_ids: list[int]) -> list[int]:
    """The assessments (first and re-assessments) of these applications."""
    if not application_ids:
        return []
    rows = await Assessment.select(Assessment.id).where(
        Assessment.application.is_in(application_ids)).order_by(Assessment.id)
    return [row["id"] for row in rows]


def applications_assigned_to(user_id: int) -> Select:
    """A sub-select of the applications an assessor is assigned to (either seat)."""
    return Assessment.select(Assessment.application).where(
        (Assessment.assessor_1 == user_id) | (Assessment.assessor_2 == user_id))


async def last_conclusion_on(person_id: int, *, other_than_application: int | None = None
                             ) -> date | None:
    """The civil date of the person's latest concluded assessment (on another application
    than `other_than_application`, when given)."""
    query = Assessment.select(Assessment.concluded_at).where(
        (Assessment.application.person == person_id)
        & (Assessment.state == str(AssessmentState.CONCLUDED))
        & Assessment.concluded_at.is_not_null())
    if other_than_application is not None:
        query = query.where(Assessment.application != other_than_application)
    row = await query.order_by(Assessment.concluded_at, ascending=False).first()
    if row is None:
        return None
    concluded: datetime = row["concluded_at"]
    if concluded.tzinfo is None:
        concluded = concluded.replace(tzinfo=UTC)
    return concluded.astimezone(clock.CHINA).date()


async def is_assessor_of_person(user_id: int, person_id: int) -> bool:
    """The user sits (or sat) on one of the person's assessments."""
    return await Assessment.exists().where(
        (Assessment.application.person == person_id)
        & ((Assessment.assessor_1 == user_id) | (Assessment.assessor_2 == user_id)))


async def assessment_for_evidence(assessment_id: int, *, lock: bool = False
                                  ) -> dict[str, Any] | None:
    """What attaching evidence checks: id, state, the two assessors, region. With `lock`,
    the row is locked on PostgreSQL (serialising attaches with submission; SQLite's
    IMMEDIATE write transaction already holds the only write lock)."""
    query = Assessment.select(
        Assessment.id, Assessment.state, Assessment.assessor_1, Assessment.assessor_2,
        Assessment.region_path,
    ).where(Assessment.id == assessment_id)
    if lock and not db.is_sqlite():
        query = query.lock_rows()
    return await query.first()


async def mark_started(assessment_id: int) -> None:
    """ASSIGNED → IN_PROGRESS once the first evidence arrives (no-op otherwise)."""
    await Assessment.update({Assessment.state: str(AssessmentState.IN_PROGRESS)}).where(
        (Assessment.id == assessment_id) & (Assessment.state == str(AssessmentState.ASSIGNED)))


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


@dataclass(frozen=True, slots=True)
class Participants:
    """Who took part in an assessment: the two on site, confirming experts and assessors who
    withdrew; and the organisations of the two on site (the assessment's organisation)."""

    user_ids: tuple[int, ...]
    organisation_ids: tuple[int, ...]


async def participants_of(assessment_id: int) -> Participants:
    """What a re-assessment after an objection excludes (复评, 29号). The organisations are
    the on-site assessors' when they were drawn (an assessor who moved since still leaves
    the first organisation out)."""
    row = await Assessment.select(
        Assessment.assessor_1, Assessment.assessor_2, Assessment.draw,
        Assessment.assessor_1.organisation.as_alias("organisation_1"),
        Assessment.assessor_2.organisation.as_alias("organisation_2"),
    ).where(Assessment.id == assessment_id).first()
    if row is None:
        return Participants((), ())
    experts = await ExpertConfirmation.select(ExpertConfirmation.expert).where(
        ExpertConfirmation.assessment == assessment_id)
    withdrawn = await AssessorConflict.select(AssessorConflict.assessor).where(
        AssessorConflict.assessment == assessment_id)
    users = {row["assessor_1"], row["assessor_2"], *(r["expert"] for r in experts),
             *(r["assessor"] for r in withdrawn)}
    organisations = {o for o in _drawn_organisations(row) if o is not None}
    return Participants(tuple(sorted(users)), tuple(sorted(organisations)))


async def may_view_to_confirm(actor: Actor, assessment_id: int) -> bool:
    """An expert who may confirm this submitted assessment (专家确认) sees its videos."""
    row = await Assessment.select().where(Assessment.id == assessment_id).first()
    return row is not None and await experts.may_view_to_confirm(actor, row)


@dataclass(frozen=True, slots=True)
class ConcludedRecord:
    """A concluded assessment as a spot check sees it: who took part, and the record."""

    id: int
    application_id: int
    application_number: str
    person_id: int
    person_name: str
    region_path: str
    assessor_ids: tuple[int, int]
    organisation_ids: tuple[int, int]  # of assessor 1 and 2 when they were drawn
    reviewer_id: int | None  # who confirmed the conclusion
    concluded_at: datetime
    grade: int | None
    kind: str  # initial | reassessment
    scores: str  # JSON, as stored
    result: str  # JSON: totals, levels, grade, explanation
    onsite_started_at: datetime | None
    onsite_ended_at: datetime | None

    @property
    def participants(self) -> frozenset[int]:
        """Everyone who took part: both assessors and the reviewer who confirmed it."""
        return frozenset(u for u in (*self.assessor_ids, self.reviewer_id) if u is not None)


_RECORD_COLUMNS = (
    Assessment.id, Assessment.application, Assessment.application.number.as_alias("number"),
    Assessment.application.person.as_alias("person"),
    Assessment.application.person.name.as_alias("person_name"), Assessment.region_path,
    Assessment.assessor_1, Assessment.assessor_2, Assessment.draw, Assessment.reviewed_by,
    Assessment.concluded_at, Assessment.grade, Assessment.kind, Assessment.scores,
    Assessment.result, Assessment.onsite_started_at, Assessment.onsite_ended_at,
    Assessment.assessor_1.organisation.as_alias("organisation_1"),
    Assessment.assessor_2.organisation.as_alias("organisation_2"),
)


def _drawn_organisations(row: dict[str, Any]) -> tuple[int, int]:
    """The assessors' organisations as the stored draw recorded them (its candidate list
    names each one's organisation on the day of the draw); their present organisation for
    rows written without a draw (history loaded as such)."""
    by_user = {c["user_id"]: c["organisation_id"]
               for c in json.loads(row["draw"]).get("candidates", [])}
    return (by_user.get(row["assessor_1"], row["organisation_1"]),
            by_user.get(row["assessor_2"], row["organisation_2"]))


def _record(row: dict[str, Any]) -> ConcludedRecord:
    concluded: datetime = row["concluded_at"]
    if concluded.tzinfo is None:
        concluded = concluded.replace(tzinfo=UTC)
    return ConcludedRecord(
        id=row["id"], application_id=row["application"], application_number=row["number"],
        person_id=row["person"], person_name=row["person_name"],
        region_path=row["region_path"], assessor_ids=(row["assessor_1"], row["assessor_2"]),
        organisation_ids=_drawn_organisations(row), reviewer_id=row["reviewed_by"],
        concluded_at=concluded, grade=row["grade"], kind=row["kind"], scores=row["scores"],
        result=row["result"], onsite_started_at=row["onsite_started_at"],
        onsite_ended_at=row["onsite_ended_at"])


async def concluded_between(region_path: str, start: datetime, end: datetime
                            ) -> list[ConcludedRecord]:
    """The assessments of a region (and below) concluded in [start, end), by id."""
    within = (Assessment.region_path == region_path) | Assessment.region_path.like(
        region_path + "/%")
    rows = await Assessment.select(*_RECORD_COLUMNS).where(
        within & (Assessment.state == str(AssessmentState.CONCLUDED))
        & (Assessment.concluded_at >= start) & (Assessment.concluded_at < end)
    ).order_by(Assessment.id)
    return [_record(row) for row in rows]


async def concluded_record(assessment_id: int) -> ConcludedRecord | None:
    row = await Assessment.select(*_RECORD_COLUMNS).where(
        (Assessment.id == assessment_id)
        & (Assessment.state == str(AssessmentState.CONCLUDED))).first()
    return _record(row) if row else None
