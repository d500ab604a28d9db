from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Text, Timestamptz
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.clock import ClockNow
from ltc.regions.tables import Region


class PolicyVersion(Table):
    """A region's policy (SPEC §9) from a date on. Rows are immutable (a database trigger
    refuses UPDATE and DELETE): a change is a new version with a later effective date, and
    every decision and computation records the version it used."""

    region = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    version = Integer(null=False)  # 1, 2, … per region
    effective_from = Date(null=False)
    definition = Text(null=False)  # JSON, validated by ltc.policy.rules.parse_policy
    note = Text(null=False, default="")
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)  # null: fixture
    created_at = Timestamptz(default=ClockNow(), null=False)
