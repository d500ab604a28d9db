from piccolo.columns import (
    BigInt,
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
from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person


class Agreement(Table):
    """An agreement (协议) of the agency with an assessment organisation, a care provider, a
    provider's service staff member, or a beneficiary's family caregiver. Kinds and states:
    ltc.agreements.rules. Rates here override the policy's defaults."""

    number = Varchar(length=24, unique=True, null=False)
    kind = Varchar(length=12, null=False, index=True)  # assessment | provider | staff | caregiver
    region_path = Varchar(length=200, null=False, index=True)
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True)  # party, or
    # the staff member's provider
    staff = ForeignKey(User, on_delete=OnDelete.restrict, null=True)  # kind staff
    qualification = Varchar(length=12, null=False, default="")  # staff: nurse | care_worker
    beneficiary = ForeignKey(Person, on_delete=OnDelete.restrict, null=True)  # kind caregiver
    caregiver_name = Varchar(length=50, null=False, default="")
    caregiver_initials = Varchar(length=20, null=False, default="")  # pinyin: 李明 → lm
    caregiver_resident_id = Varchar(length=18, null=False, default="")
    caregiver_phone = Varchar(length=20, null=False, default="")
    relationship = Varchar(length=20, null=False, default="")
    bank_name = Varchar(length=100, null=False, default="")
    bank_account = Varchar(length=40, null=False, default="")
    bank_account_name = Varchar(length=200, null=False, default="")  # the holder (户名)
    # Where a provider's account came from: "entered" for this agreement, or "register"
    # (copied from the organisation register when the clerk confirmed it); "" none.
    account_source = Varchar(length=12, null=False, default="")
    trained_on = Date(null=True, default=None)
    home_visits = Boolean(default=False, null=False)  # provider scope
    institutional_beds = Integer(default=0, null=False)  # provider scope: contracted beds
    visit_rate_fen = BigInt(null=True, default=None)
    bed_day_rates = Text(null=False, default="{}")  # JSON grade → fen per bed-day
    family_subsidy_fen = BigInt(null=True, default=None)
    starts_on = Date(null=False)
    ends_on = Date(null=False, index=True)  # the last day covered
    state = Varchar(length=12, null=False, index=True)
    state_reason = Text(null=False, default="")
    state_changed_on = Date(null=True, default=None)  # suspended / terminated from this day
    reminded_on = Date(null=True, default=None)  # the 30-day expiry reminder
    document_sha256 = Varchar(length=64, null=True, default=None)
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)
    # An amendment (补充协议) is a new row from its effective day: `root` is the original
    # agreement of the chain (None on the original), `amendment_no` 1, 2, … (0 the original).
    root = ForeignKey("self", on_delete=OnDelete.restrict, null=True)
    amendment_no = Integer(default=0, null=False)
    amendment_reason = Text(null=False, default="")
    version = Integer(default=1, null=False)
