from piccolo.columns import (
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation


class StaffMember(Table):
    """A person who works in the scheme (实名制): nurse, care worker, assessor or assessment
    expert, by resident ID, with their certificate, national staff code and employer. The
    single source of truth for qualifications: an account that is a member of staff links
    here (`user`). Rules: ltc.staff.rules; history: the audit log of object "staff"."""

    # NULL only for records made from accounts' former qualification columns (migration
    # 2026-12-06T10:01), until someone completes them; UNIQUE otherwise.
    resident_id = Varchar(length=18, unique=True, null=True, default=None)
    name = Varchar(length=50, null=False)
    name_initials = Varchar(length=20, null=False, default="", index=True)
    kind = Varchar(length=12, null=False)  # nurse | care_worker | assessor | expert
    certificate_no = Varchar(length=50, null=False)
    certificate_until = Date(null=False)  # the certificate's last valid day
    staff_code = Varchar(length=14, unique=True, null=True, default=None)  # 医保人员编码
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)  # the employer's, for scoping
    user = ForeignKey(User, on_delete=OnDelete.restrict, null=True, unique=True)
    status = Varchar(length=12, null=False, default="active")  # active | suspended | left
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)


class StaffTraining(Table):
    """One training a member of staff took (date, course, class hours 学时, issuer)."""

    staff = ForeignKey(StaffMember, on_delete=OnDelete.restrict, null=False, index=True)
    trained_on = Date(null=False)
    course = Varchar(length=100, null=False)
    hours = Integer(null=False)
    issuer = Varchar(length=100, null=False)
    recorded_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    recorded_at = Timestamptz(default=ClockNow(), null=False)
