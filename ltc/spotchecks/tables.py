from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation


class SpotCheckDraw(Table):
    """One region's monthly sample of concluded assessments (ltc.spotchecks.rules): its seed,
    candidates and picks in `record`, so it can be replayed. One per region and month."""

    key = Varchar(length=230, unique=True, null=False)  # "<region path>@YYYY-MM"
    region_path = Varchar(length=200, null=False, index=True)
    month = Date(null=False, index=True)  # the month's first day
    rate_basis_points = Integer(null=False)
    seed = Varchar(length=64, null=False)
    algorithm = Varchar(length=60, null=False)
    record = Text(null=False)  # JSON: algorithm, seed, rate, candidates, chosen
    drawn_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)  # null: the scheduler
    drawn_at = Timestamptz(default=ClockNow(), null=False)


class SpotCheck(Table):
    """One drawn assessment, waiting for an expert or with their finding. The organisations
    are those of the two assessors when the assessment was drawn."""

    draw = ForeignKey(SpotCheckDraw, on_delete=OnDelete.restrict, null=False)
    assessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=False, unique=True)
    region_path = Varchar(length=200, null=False, index=True)
    month = Date(null=False, index=True)
    organisation_1 = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    organisation_2 = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    state = Varchar(length=12, null=False, index=True)  # ltc.spotchecks.rules.SpotCheckState
    finding = Varchar(length=12, null=False, default="")  # "" | conform | nonconform
    notes = Text(null=False, default="")
    expert = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    recorded_at = Timestamptz(null=True, default=None)
    application = ForeignKey(Application, on_delete=OnDelete.restrict, null=True)  # 不符合's
    # new case (accepted ex officio, assessors drawn from other organisations)
    version = Integer(default=1, null=False)
