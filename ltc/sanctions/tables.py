from piccolo.columns import (
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
from ltc.careplans.tables import CarePlan
from ltc.clock import ClockNow
from ltc.entitlements.tables import Entitlement
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.staff.tables import StaffMember


class Sanction(Table):
    """A sanction (处理决定, 21号文): an organisation's agreement suspended or terminated, or a
    member of staff's eligibility suspended or terminated, with its reason, legal basis and
    period. Rules: ltc.sanctions.rules."""

    target = Varchar(length=12, null=False)  # organisation | staff
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False,
                              index=True)  # the sanctioned one, or the staff's employer
    staff = ForeignKey(StaffMember, on_delete=OnDelete.restrict, null=True, index=True)
    agreement = ForeignKey(Agreement, on_delete=OnDelete.restrict, null=True)
    measure = Varchar(length=12, null=False)  # suspend | terminate
    category = Varchar(length=20, null=False)  # reason category (public): rules.Category
    reason = Text(null=False, default="")
    legal_basis = Text(null=False, default="")
    starts_on = Date(null=False)
    ends_on = Date(null=True, default=None)  # the last day; None for a termination
    region_path = Varchar(length=200, null=False, index=True)
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)


class Ban(Table):
    """The ban register (禁入名单): a person, by resident ID, barred from the scheme for a
    period; an organisation whose legal representative is banned signs no agreement."""

    resident_id = Varchar(length=18, null=False, index=True)
    name = Varchar(length=50, null=False)
    category = Varchar(length=20, null=False)
    reason = Text(null=False, default="")
    legal_basis = Text(null=False, default="")
    starts_on = Date(null=False)
    ends_on = Date(null=False)  # the last banned day
    region_path = Varchar(length=200, null=False, index=True)
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)


class ProviderExit(Table):
    """A care provider's notice of exit (退出): its exit day, and the client handover
    worklist (HandoverItem) the clerk works before the exit is completed."""

    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False,
                              index=True)
    region_path = Varchar(length=200, null=False, index=True)
    notice_on = Date(null=False)
    exit_on = Date(null=False)  # the first day the provider no longer serves
    reason = Text(null=False, default="")
    state = Varchar(length=12, null=False, index=True)  # OPEN | COMPLETED
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)
    completed_at = Timestamptz(null=True, default=None)
    version = Integer(default=1, null=False)


class HandoverItem(Table):
    """One beneficiary of an exiting provider: the plan in force, the provider proposed by
    rules.propose, and — once the clerk confirms — the provider chosen and the new plan."""

    provider_exit = ForeignKey(ProviderExit, on_delete=OnDelete.restrict, null=False,
                               index=True)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    entitlement = ForeignKey(Entitlement, on_delete=OnDelete.restrict, null=False)
    care_plan = ForeignKey(CarePlan, on_delete=OnDelete.restrict, null=False)
    town = Varchar(length=40, null=False, default="")
    proposed = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True)
    chosen = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True)
    new_plan = ForeignKey(CarePlan, on_delete=OnDelete.restrict, null=True)
    state = Varchar(length=12, null=False, index=True)  # OPEN | DONE
    done_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    done_at = Timestamptz(null=True, default=None)
    version = Integer(default=1, null=False)
