from piccolo.columns import Date, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ltc.accounts.tables import ApiToken
from ltc.clock import ClockNow
from ltc.people.tables import Person


class EnrollmentRecord(Table):
    """A person's basic medical insurance enrolment as the local adapter knows it, from the
    bureau's CSV exports (later also from enrolment events). One current record per person."""

    resident_id = Varchar(length=18, unique=True, null=False)
    insurance_number = Varchar(length=40, null=False)
    name = Varchar(length=50, null=False)
    scheme = Varchar(length=20, null=False)  # resident | employee
    region_code = Varchar(length=20, null=False)
    status = Varchar(length=10, null=False)  # enrolled | ended
    start_date = Date(null=False)
    end_date = Date(null=True, default=None)
    source = Varchar(length=200, null=False)  # the import file it came from
    updated_at = Timestamptz(default=ClockNow(), null=False)


class EnrollmentEvent(Table):
    """An enrolment event received from the basic medical insurance system (SPEC §8). Unique
    per (client, event_id): a replay returns the stored `response` and changes nothing."""

    client = ForeignKey(ApiToken, on_delete=OnDelete.restrict, null=False)
    event_id = Varchar(length=100, null=False)
    kind = Varchar(length=30, null=False)
    resident_id = Varchar(length=18, null=False, index=True)
    effective_on = Date(null=False)
    body_sha256 = Varchar(length=64, null=False)
    response = Text(null=False)  # JSON, returned again on a replay
    received_at = Timestamptz(default=ClockNow(), null=False)


class HospitalStay(Table):
    """A hospital stay, from admission and discharge events that may arrive in either order:
    a discharge without a known admission waits here (admitted_on null) for it."""

    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    admitted_on = Date(null=True, default=None)
    discharged_on = Date(null=True, default=None)  # the first day back home (active again)
    admission_source = Varchar(length=120, null=False, default="")
    discharge_source = Varchar(length=120, null=False, default="")


class EnrollmentAnswer(Table):
    """A definite answer (enrolled or not) of the bureau's system about a person on a day
    (`on_day`), given on `answered_on`: every process reuses it that day and asks again the
    next (ltc.enrollment.remote). Unique per (resident_id, on_day, answered_on) by a raw
    index; an unknown answer is never stored."""

    resident_id = Varchar(length=18, null=False)
    on_day = Date(null=False)
    answered_on = Date(null=False)  # civil date (Asia/Shanghai) the system answered
    status = Varchar(length=12, null=False)  # enrolled | not_enrolled
    scheme = Varchar(length=20, null=True, default=None)
    insurance_number = Varchar(length=40, null=True, default=None)
    region_code = Varchar(length=20, null=True, default=None)
    reason = Text(null=True, default=None)
    answered_at = Timestamptz(default=ClockNow(), null=False)
