"""How long conclusions are valid (SPEC §12), for the person page and the clerks' list.

A conclusion is valid for the months that the policy in force on the day of the conclusion
gives its grade (ltc.policy.rules.validity_months: 24 for grades 3–5 by default; grades
without benefits get `validity_months`, shown for the record, and are never listed). Its
expiry ends nothing by itself: the entitlement it granted keeps its own expiry date (the same
months counted from the benefit start, SPEC §3) and its renewal task; the list of expiring and
expired conclusions is where clerks find whom to invite for a new assessment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ltc import clock
from ltc.assessments.rules import (
    EXPIRING_WITHIN_DAYS,
    AssessmentState,
    Validity,
    conclusion_valid_until,
    validity_on,
)
from ltc.assessments.tables import Assessment
from ltc.identity import Actor, in_region
from ltc.policy.rules import Policy, is_eligible, validity_months
from ltc.policy.service import policy_in_force


@dataclass(frozen=True, slots=True)
class ConclusionValidity:
    assessment_id: int
    application_id: int
    person_id: int
    person_name: str
    name_initials: str
    resident_id: str  # in full: whoever shows it masks it
    grade: int
    concluded_on: date
    months: int
    valid_until: date
    state: Validity
    with_benefits: bool  # the grade has benefits under that policy


_COLUMNS = (
    Assessment.id, Assessment.application, Assessment.region_path, Assessment.grade,
    Assessment.concluded_at, Assessment.application.person.as_alias("person"),
    Assessment.application.person.name.as_alias("person_name"),
    Assessment.application.person.name_initials.as_alias("name_initials"),
    Assessment.application.person.resident_id.as_alias("resident_id"),
)


def _latest_first():
    return (Assessment.select(*_COLUMNS)
            .where((Assessment.state == str(AssessmentState.CONCLUDED))
                   & Assessment.concluded_at.is_not_null())
            .order_by(Assessment.concluded_at, Assessment.id, ascending=False))


def _civil_date(moment: datetime) -> date:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(clock.CHINA).date()


async def _shaped(row: dict[str, Any], today: date, within_days: int,
                  policies: dict[tuple[str, date], Policy]) -> ConclusionValidity:
    concluded_on = _civil_date(row["concluded_at"])
    key = (row["region_path"].split("/")[0], concluded_on)
    if key not in policies:
        policies[key] = (await policy_in_force(row["region_path"], concluded_on)).policy
    policy = policies[key]
    months = validity_months(policy, row["grade"])
    valid_until = conclusion_valid_until(concluded_on, months)
    return ConclusionValidity(
        assessment_id=row["id"], application_id=row["application"], person_id=row["person"],
        person_name=row["person_name"], name_initials=row["name_initials"],
        resident_id=row["resident_id"], grade=row["grade"],
        concluded_on=concluded_on, months=months, valid_until=valid_until,
        state=validity_on(valid_until, today, within_days),
        with_benefits=is_eligible(policy, row["grade"]))


async def validity_of(person_id: int, today: date | None = None,
                      within_days: int = EXPIRING_WITHIN_DAYS) -> ConclusionValidity | None:
    """The person's latest conclusion and how long it is valid; None before any."""
    row = await _latest_first().where(Assessment.application.person == person_id).first()
    if row is None:
        return None
    return await _shaped(row, today or clock.today(), within_days, {})


async def conclusions_to_renew(actor: Actor, today: date | None = None,
                               within_days: int = EXPIRING_WITHIN_DAYS,
                               ) -> list[ConclusionValidity]:
    """Each living person's latest conclusion in the actor's region, of a grade with
    benefits, that has expired or expires within `within_days`; the soonest first."""
    today = today or clock.today()
    rows = await _latest_first().where(
        in_region(actor, Assessment.region_path)
        & Assessment.application.person.deceased_on.is_null())
    policies: dict[tuple[str, date], Policy] = {}
    seen: set[int] = set()
    found = []
    for row in rows:
        if row["person"] in seen:
            continue  # an older conclusion of someone already listed
        seen.add(row["person"])
        item = await _shaped(row, today, within_days, policies)
        if item.with_benefits and item.state != Validity.VALID:
            found.append(item)
    found.sort(key=lambda item: (item.valid_until, item.person_id))
    return found
