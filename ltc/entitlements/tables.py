from piccolo.columns import (
    Boolean,
    Date,
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
from ltc.assessments.tables import Assessment
from ltc.clock import ClockNow
from ltc.people.tables import Person
from ltc.policy.tables import PolicyVersion


class Decision(Table):
    """待遇核定: the decision on a case after its notice (or its final re-assessment)."""

    number = Varchar(length=20, unique=True, null=False)
    application = ForeignKey(Application, on_delete=OnDelete.restrict, null=False, unique=True)
    assessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=False)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)
    grade = Integer(null=False)
    eligible = Boolean(null=False)
    basis = Varchar(length=20, null=False)  # no_objection | reassessment
    decided_on = Date(null=False)
    policy_version = ForeignKey(PolicyVersion, on_delete=OnDelete.restrict, null=False)
    letter_sha256 = Varchar(length=64, null=True, default=None)
    letter_rendered_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=ClockNow(), null=False)


class Entitlement(Table):
    """待遇资格. `state` is the state today, derived by ltc.entitlements.rules.state_on from the
    dates here, the person's hospital stays and the suspensions; it is refreshed whenever one
    of them changes and daily by the scheduler."""

    decision = ForeignKey(Decision, on_delete=OnDelete.restrict, null=False, unique=True)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    region_path = Varchar(length=200, null=False, index=True)
    grade = Integer(null=False)
    starts_on = Date(null=False)
    expires_on = Date(null=False, index=True)  # the last day of validity
    ends_on = Date(null=True, default=None)  # the last active day, when ended early
    end_reason = Varchar(length=30, null=False, default="")
    state = Varchar(length=12, null=False, index=True)
    policy_version = ForeignKey(PolicyVersion, on_delete=OnDelete.restrict, null=False)
    renewal_raised_on = Date(null=True, default=None)
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)


class Suspension(Table):
    """A suspension by a clerk, with a reason, from a day until the day it resumes (open
    when `resumes_on` is null). Hospital stays suspend through ltc.enrollment's HospitalStay."""

    entitlement = ForeignKey(Entitlement, on_delete=OnDelete.restrict, null=False)
    reason = Text(null=False)
    starts_on = Date(null=False)
    resumes_on = Date(null=True, default=None)
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz(default=ClockNow(), null=False)


class EntitlementChange(Table):
    """The history of an entitlement, one row per change, with its cause."""

    entitlement = ForeignKey(Entitlement, on_delete=OnDelete.restrict, null=False)
    kind = Varchar(length=20, null=False)  # started | suspended | resumed | ended | …
    state_before = Varchar(length=12, null=False, default="")
    state_after = Varchar(length=12, null=False)
    effective_on = Date(null=False)
    reason = Text(null=False, default="")
    source = Varchar(length=120, null=False)  # clerk | event <id> | import <file> | scheduler
    actor_name = Varchar(length=100, null=False)
    at = Timestamptz(default=ClockNow(), null=False)
