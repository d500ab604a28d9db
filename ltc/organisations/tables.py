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

from ltc.clock import ClockNow
from ltc.regions.tables import Region


class Organisation(Table):
    """A designated organisation (定点机构): an assessment organisation or a care provider;
    assessors and providers belong to one, and only see their own organisation's work.

    `kind` (assessment | provider) is what other contexts read; `category` is the register's
    finer kind (ltc.organisations.rules.Category). `active` is `status == "normal"`, kept so by
    every write in ltc.organisations.service."""

    code = Varchar(length=40, unique=True, null=False)
    name = Varchar(length=200, null=False)
    kind = Varchar(length=20, null=False)  # assessment | provider
    region = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    active = Boolean(default=True, null=False)
    # Its bank account (收款账户); "" until filled in. Lists show it masked.
    bank_name = Varchar(length=100, null=False, default="")
    bank_account_name = Varchar(length=200, null=False, default="")
    bank_account_no = Varchar(length=40, null=False, default="")
    category = Varchar(length=20, null=False, default="")
    # 医保信息业务编码; unique (an index: migration 2026-12-05T09:10), None until filled in.
    national_code = Varchar(length=40, null=True, default=None)
    licence_no = Varchar(length=60, null=False, default="")
    legal_representative = Varchar(length=50, null=False, default="")
    # The legal representative's resident ID: the ban register (ltc.sanctions) is by person.
    legal_representative_id = Varchar(length=18, null=False, default="")
    address = Varchar(length=200, null=False, default="")
    contact_name = Varchar(length=50, null=False, default="")
    contact_phone = Varchar(length=20, null=False, default="")
    service_towns = Text(null=False, default="")  # town codes, comma-separated
    status = Varchar(length=10, null=False, default="normal")  # normal | suspended | exited
    version = Integer(null=False, default=1)


class OrganisationStatusChange(Table):
    """One change of an organisation's status (正常 / 暂停 / 退出): when, why and who."""

    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False,
                              index=True)
    status = Varchar(length=10, null=False, default="")
    effective_on = Date(null=False)
    reason = Text(null=False, default="")
    changed_by = Integer(null=True, default=None)  # the user's id; None for the command line
    changed_by_name = Varchar(length=100, null=False, default="")
    changed_at = Timestamptz(null=False, default=ClockNow())
