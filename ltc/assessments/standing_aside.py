"""Who must stand aside (回避, SPEC §12, 29号) from assessing, confirming or spot-checking a
person's assessment. The draw leaves them out; the same rule then holds for everyone who
comes to the assessment later — a replacement after a withdrawal, an expert confirming from
the record (专家确认), an expert spot-checking it (抽查) — so that nobody the draw had to leave
out reaches the case by another door.

Two kinds of reason:
- of the person, looked up afresh: a declared conflict with the person, or working for the
  person's current care provider;
- of the case, stored in the assessment's draw record: the people and organisations of an
  earlier assessment the case re-checks (objection, spot check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltc.assessments.tables import AssessorConflict
from ltc.careplans import interface as careplans

# Reasons in a draw record that belong to the case, not to the day's workload or seat.
CASE_REASONS = frozenset({"took_part", "excluded_organisation"})


async def conflicted_with(person_id: int) -> set[int]:
    """The assessors who declared a conflict with the person (回避)."""
    rows = await AssessorConflict.select(AssessorConflict.assessor).where(
        AssessorConflict.person == person_id)
    return {row["assessor"] for row in rows}


@dataclass(frozen=True)
class CaseExclusions:
    user_ids: frozenset[int]
    organisation_ids: frozenset[int]


def case_exclusions(draw_record: dict[str, Any]) -> CaseExclusions:
    """Who stood aside in a stored draw because of the case (took part in the assessment it
    re-checks) and which organisations (that assessment's). Records of the first draw
    algorithm list the excluded ids without reasons; all of them had taken part."""
    if "exclusions" in draw_record:
        users = {e["user_id"] for e in draw_record["exclusions"]
                 if "took_part" in e["reasons"]}
    else:
        users = set(draw_record.get("exclude", []))
    return CaseExclusions(frozenset(users),
                          frozenset(draw_record.get("exclude_organisations", [])))


async def why_stand_aside(user_id: int, organisation_id: int | None, person_id: int,
                          draw_record: dict[str, Any]) -> str | None:
    """Why this assessor must stand aside from the person's assessment, in words for them,
    or None."""
    case = case_exclusions(draw_record)
    if user_id in case.user_ids:
        return "您参与过本案所复核的原评估，须回避"
    if organisation_id in case.organisation_ids:
        return "您所在机构作出了本案所复核的原评估，须回避"
    if user_id in await conflicted_with(person_id):
        return "您已申报与被评估人存在利害关系（回避）"
    if organisation_id in await careplans.current_providers(person_id):
        return "您所在机构是被评估人当前的护理服务机构，须回避"
    return None
