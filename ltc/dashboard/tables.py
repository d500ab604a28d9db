"""The dashboard's own tables: the summary figures a job keeps, the budgets the admin sets
and the monthly reports rendered from the figures."""

from piccolo.columns import BigInt, Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.clock import ClockNow
from ltc.regions.tables import Region


class DashboardFigure(Table):
    """One figure of the dashboard for a pooling region, a town ('' = the whole region) and a
    month, e.g. figure=spend key=home_visit value=net fen. Replaced as a whole per pooling
    region by ltc.dashboard.service.refresh; pages read nothing else (issue 18: fast at 1M).
    The meaning of n, value, value2 and detail per figure: ltc.dashboard.service.FIGURES."""

    pooling_code = Varchar(length=20, null=False, index=True)
    town_code = Varchar(length=20, null=False, default="")
    month = Date(null=False)  # its first day
    figure = Varchar(length=20, null=False)
    key = Varchar(length=40, null=False, default="")
    label = Varchar(length=200, null=False, default="")
    n = BigInt(null=False, default=0)
    value = BigInt(null=True, default=None)
    value2 = BigInt(null=True, default=None)
    detail = Text(null=False, default="")


class DashboardRefresh(Table):
    """When a pooling region's figures were last made, and how long it took (unique code)."""

    pooling_code = Varchar(length=20, null=False, unique=True)
    refreshed_at = Timestamptz(default=ClockNow(), null=False)
    seconds = Integer(null=False, default=0)
    version = Integer(default=1, null=False)


class Budget(Table):
    """The year's long-term care fund budget of a pooling region (年度基金预算), set by the
    admin. Unique per (region, year) by a raw index. A table of its own, not a policy field:
    the budget is the finance bureau's yearly appropriation, voted and corrected on its own
    calendar, while a policy version is the benefit rules effective from a date, which the
    payouts are computed with — a budget correction must not make a new version of them."""

    region = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    year = Integer(null=False)
    amount_fen = BigInt(null=False)
    set_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    set_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)


class MonthlyReport(Table):
    """长护险月度运行情况: one PDF per pooling region and month (unique, raw index), rendered
    from the figures again on demand (the row keeps the newest file)."""

    pooling_code = Varchar(length=20, null=False)
    month = Date(null=False)
    sha256 = Varchar(length=64, null=False)
    rendered_at = Timestamptz(default=ClockNow(), null=False)
    rendered_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    version = Integer(default=1, null=False)
