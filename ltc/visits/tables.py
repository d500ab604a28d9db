from piccolo.columns import (
    UUID,
    Boolean,
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
from ltc.careplans.tables import CarePlan
from ltc.clock import ClockNow
from ltc.entitlements.tables import Entitlement
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person


class Visit(Table):
    """A professional home visit as logged by the provider's staff (SPEC §6). Never edited:
    a correction is a new row with `revision_of` and a reason code, and the original stays.
    Review: ltc.visits.rules (accepted automatically when no flag, else reviewed)."""

    client_uuid = UUID(null=False, unique=True)  # made by the app: a retry is a replay
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    entitlement = ForeignKey(Entitlement, on_delete=OnDelete.restrict, null=True)
    care_plan = ForeignKey(CarePlan, on_delete=OnDelete.restrict, null=True)
    provider = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    staff = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)
    service_type = Varchar(length=20, null=False)  # home_visit
    visit_on = Date(null=False)  # the civil date of started_at, for month queries
    started_at = Timestamptz(null=False)
    ended_at = Timestamptz(null=False)
    checkin_latitude = DoublePrecision(null=True, default=None)
    checkin_longitude = DoublePrecision(null=True, default=None)
    checkout_latitude = DoublePrecision(null=True, default=None)
    checkout_longitude = DoublePrecision(null=True, default=None)
    items = Text(null=False, default="[]")  # JSON list of care item codes done
    notes = Text(null=False, default="")
    family_confirmed_by = Varchar(length=50, null=False, default="")
    confirmation_code = Varchar(length=20, null=False, default="")
    signature_sha256 = Varchar(length=64, null=True, default=None)
    revision_of = ForeignKey("self", on_delete=OnDelete.restrict, null=True)
    revision_reason = Varchar(length=30, null=False, default="")
    revision_note = Text(null=False, default="")
    superseded = Boolean(null=False, default=False)  # a revision replaces it
    flags = Text(null=False, default="[]")  # JSON list of {code, message}
    review = Varchar(length=24, null=False, index=True)  # ltc.visits.rules review states
    reviewed_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    review_reason = Text(null=False, default="")
    reviewed_at = Timestamptz(null=True, default=None)
    response = Text(null=False, default="")  # the JSON first answered (API replays)
    created_at = Timestamptz(default=ClockNow(), null=False)


class InstitutionalStay(Table):
    """A beneficiary's stay at a contracted institution: bed-days from admission (counted)
    to discharge (not counted)."""

    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    entitlement = ForeignKey(Entitlement, on_delete=OnDelete.restrict, null=False)
    institution = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)
    admitted_on = Date(null=False)
    discharged_on = Date(null=True, default=None)
    recorded_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz(default=ClockNow(), null=False)


class Survey(Table):
    """A return-visit survey (回访) by a clerk: the beneficiary's satisfaction with a provider."""

    provider = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)
    surveyed_on = Date(null=False)
    score = Integer(null=False)  # 1–5
    comment = Text(null=False, default="")
    recorded_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz(default=ClockNow(), null=False)


class PinAttempt(Table):
    """One household PIN typed to confirm a visit (ltc.visits.confirmation): wrong ones count
    towards the beneficiary's daily limit."""

    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    provider = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    staff = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    day = Date(null=False)  # the civil date of the attempt: the limit is per day
    correct = Boolean(null=False)
    created_at = Timestamptz(default=ClockNow(), null=False)
