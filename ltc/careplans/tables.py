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
from ltc.agreements.tables import Agreement
from ltc.clock import ClockNow
from ltc.entitlements.tables import Entitlement
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person


class CareItem(Table):
    """The care catalogue (SPEC §5): 42 items, loaded from fixtures/care_items.json."""

    code = Varchar(length=20, unique=True, null=False)
    name_zh = Varchar(length=50, null=False)
    name_en = Varchar(length=100, null=False)
    category = Varchar(length=12, null=False)  # basic_life | clinical
    nurse_only = Boolean(null=False)
    minutes = Integer(null=False)  # reference minutes
    in_package = Varchar(length=10, null=False)  # required | optional | excluded (default)
    # The national service-item code; "" for none. Unique among the items that have one (a
    # partial index: migration 2026-12-13T09:00).
    national_code = Varchar(length=40, null=False, default="")


class CarePlan(Table):
    """One version of an entitlement's care plan, in force from `starts_on` until the next
    version starts. A change is a new version; history is kept. State: PROPOSED (by the
    provider) → ACTIVE (confirmed by a clerk) → SUPERSEDED; or REJECTED."""

    entitlement = ForeignKey(Entitlement, on_delete=OnDelete.restrict, null=False)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    region_path = Varchar(length=200, null=False, index=True)
    plan_no = Integer(null=False)  # version 1, 2, … of the entitlement's plan
    care_form = Varchar(length=12, null=False)  # home | institution
    family_caregiver = ForeignKey(Agreement, on_delete=OnDelete.restrict, null=True)
    provider = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True, index=True)
    items = Text(null=False, default="[]")  # JSON list of care item codes
    visits_per_month = Integer(null=False, default=0)
    starts_on = Date(null=False)
    state = Varchar(length=12, null=False, index=True)
    note = Text(null=False, default="")
    proposed_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    confirmed_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)  # optimistic concurrency


class CarePlanLetter(Table):
    """One issue of the care-plan letter (护理计划告知书) with the household's confirmation PIN
    (ltc.careplans.letters). The PIN is stored only as its hash; `pin_hash` and
    `letter_sha256` stay empty until the worker has issued it."""

    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    care_plan = ForeignKey(CarePlan, on_delete=OnDelete.restrict, null=False, index=True)
    region_path = Varchar(length=200, null=False, index=True)
    issue_no = Integer(null=False)  # 1, 2, … per person
    reason = Text(null=False, default="")  # why it was issued again ("" for a new plan)
    requested_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    pin_hash = Varchar(length=200, null=False, default="")
    letter_sha256 = Varchar(length=64, null=True, default=None)
    issued_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=ClockNow(), null=False)
