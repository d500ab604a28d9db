from piccolo.columns import (
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ltc.clock import ClockNow
from ltc.regions.tables import Region


class Person(Table):
    """A disabled person (or someone applying for the scheme). One row per resident ID: the
    UNIQUE constraint, not only the code, makes a second person for one ID impossible."""

    resident_id = Varchar(length=18, unique=True, null=False)
    name = Varchar(length=50, null=False)
    name_initials = Varchar(length=20, null=False, index=True)  # pinyin initials: 张三 → zs
    sex = Varchar(length=1, null=False)  # M | F, from the resident ID
    birth_date = Date(null=False)  # from the resident ID
    phone = Varchar(length=20, null=False, index=True)
    address = Varchar(length=200, null=False)
    village = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)  # the village's path, for scoping
    insurance_number = Varchar(length=40, null=True, default=None, index=True)
    # The registered address's position, when known: visits checked in far from it are flagged.
    latitude = DoublePrecision(null=True, default=None)
    longitude = DoublePrecision(null=True, default=None)
    deceased_on = Date(null=True, default=None)  # from a `deceased` enrolment event
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)
