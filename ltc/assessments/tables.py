from piccolo.columns import (
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.applications.tables import Application
from ltc.clock import ClockNow
from ltc.regions.tables import Region


class Ruleset(Table):
    """A grading ruleset version (bands + matrix, or Barthel only), per region or national
    (region null). Definitions are immutable; every assessment records the one it used.

    The first version of a code is ACTIVE when loaded, from its definition's date. A later
    version loads PENDING and is in force only once an admin activates it from a date
    (`effective_from` then holds that date; ltc.assessments.rulesets)."""

    code = Varchar(length=40, null=False)
    version = Integer(null=False)
    region = ForeignKey(Region, on_delete=OnDelete.restrict, null=True)
    effective_from = Date(null=False)
    definition = Text(null=False)  # JSON, validated by ltc.assessments.grading
    loaded_at = Timestamptz(default=ClockNow(), null=False)
    state = Varchar(length=12, null=False, default="ACTIVE")  # ACTIVE | PENDING
    activated_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    activated_at = Timestamptz(null=True, default=None)


class Assessment(Table):
    """One on-site disability assessment by two assessors. States: ltc.assessments.rules."""

    application = ForeignKey(Application, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)
    kind = Varchar(length=12, null=False)  # initial | reassessment
    state = Varchar(length=12, null=False, index=True)
    assessor_1 = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    assessor_2 = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    draw = Text(null=False)  # JSON: seed, candidates with workloads, excluded, chosen
    scores = Text(null=False, default="{}")  # JSON: item code → raw score
    onsite_started_at = Timestamptz(null=True, default=None)
    onsite_ended_at = Timestamptz(null=True, default=None)
    latitude = DoublePrecision(null=True, default=None)
    longitude = DoublePrecision(null=True, default=None)
    # The guardian or agent present on site (rules.GUARDIAN_RELATIONSHIPS); the phone is
    # personal data: masked wherever it is listed (ltc.phones.mask_phone).
    guardian_name = Varchar(length=50, null=False, default="")
    guardian_relationship = Varchar(length=10, null=False, default="")
    guardian_phone = Varchar(length=30, null=False, default="")
    signed_1_at = Timestamptz(null=True, default=None)
    signed_2_at = Timestamptz(null=True, default=None)
    ruleset = ForeignKey(Ruleset, on_delete=OnDelete.restrict, null=True)
    result = Text(null=False, default="{}")  # JSON: totals, levels, grade, explanation
    grade = Integer(null=True, default=None, index=True)
    submitted_at = Timestamptz(null=True, default=None)
    reviewed_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    concluded_at = Timestamptz(null=True, default=None, index=True)
    return_reason = Text(null=False, default="")
    due_on = Date(null=True, default=None)  # re-assessments: within N working days (policy)
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)


class ExpertConfirmation(Table):
    """专家确认 (29号): an assessment expert who was not on site confirms the conclusion from
    the record and the video, when fewer than two experts signed on site. A return to the
    assessors voids the confirmations given so far (the scores may change)."""

    assessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=False, index=True)
    expert = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    note = Text(null=False, default="")
    confirmed_at = Timestamptz(default=ClockNow(), null=False)
    voided_at = Timestamptz(null=True, default=None)


class AssessorConflict(Table):
    """回避: an assessor has a family or interest relation to a person, so no draw for that
    person picks them again. Declared by the assessor from an assigned case (which withdraws
    them from it)."""

    assessor = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    # The person's id. No foreign key: ltc.people reads assessments (interface), and a key
    # would make the two contexts import each other.
    person = Integer(null=False, index=True)
    reason = Text(null=False)
    assessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=True)
    declared_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    declared_at = Timestamptz(default=ClockNow(), null=False)
