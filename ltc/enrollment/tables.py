from piccolo.columns import Date, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


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
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)
