from piccolo.columns import Boolean, ForeignKey, OnDelete, Varchar
from piccolo.table import Table

from ltc.regions.tables import Region


class Organisation(Table):
    """A contracted assessment organisation or care provider; assessors and providers belong
    to one, and only see their own organisation's work."""

    code = Varchar(length=40, unique=True, null=False)
    name = Varchar(length=200, null=False)
    kind = Varchar(length=20, null=False)  # assessment | provider
    region = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    active = Boolean(default=True, null=False)
    # Its bank account (收款账户); "" until filled in. Lists show it masked.
    bank_name = Varchar(length=100, null=False, default="")
    bank_account_name = Varchar(length=200, null=False, default="")
    bank_account_no = Varchar(length=40, null=False, default="")
