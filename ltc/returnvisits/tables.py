from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.visits.tables import Visit


class ReturnVisitDraw(Table):
    """One region's monthly sample of accepted home visits to call back (ltc.returnvisits
    .rules): its seed, candidates and picks in `record`, so it can be replayed. One per
    region and month."""

    key = Varchar(length=230, unique=True, null=False)  # "<region path>@YYYY-MM"
    region_path = Varchar(length=200, null=False, index=True)
    month = Date(null=False, index=True)  # the month's first day
    rate_basis_points = Integer(null=False)
    minimum = Integer(null=False)
    seed = Varchar(length=64, null=False)
    algorithm = Varchar(length=60, null=False)
    record = Text(null=False)  # JSON: algorithm, seed, rate, minimum, candidates, chosen
    drawn_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)  # null: the scheduler
    drawn_at = Timestamptz(default=ClockNow(), null=False)


class ReturnVisit(Table):
    """One drawn visit, waiting for a clerk's call or with its result."""

    draw = ForeignKey(ReturnVisitDraw, on_delete=OnDelete.restrict, null=False)
    visit = ForeignKey(Visit, on_delete=OnDelete.restrict, null=False, unique=True)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    provider = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False, index=True)
    region_path = Varchar(length=200, null=False, index=True)
    month = Date(null=False, index=True)
    state = Varchar(length=12, null=False, index=True)  # rules.CallState
    outcome = Varchar(length=12, null=False, default="")  # "" | rules.Outcome
    satisfaction = Integer(null=True, default=None)  # 1–5 when reached
    note = Text(null=False, default="")
    called_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    recorded_at = Timestamptz(null=True, default=None)
    version = Integer(default=1, null=False)
