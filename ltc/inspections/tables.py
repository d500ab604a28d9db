from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation


class InspectionFinding(Table):
    """One pattern the nightly 稽核 run found across visits (ltc.inspections.rules), waiting
    for a reviewer or decided: confirmed (its visits rejected) or cleared, with a reason.
    `key` is stable from night to night, so a re-run updates an open finding and never adds
    a second one or reopens a decided one."""

    key = Varchar(length=300, unique=True, null=False)
    rule = Varchar(length=30, null=False, index=True)  # ltc.inspections.rules.Rule
    region_path = Varchar(length=200, null=False, index=True)  # the pooling region's
    month = Date(null=False, index=True)  # the month's first day
    provider = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False, index=True)
    staff = ForeignKey(User, on_delete=OnDelete.restrict, null=True, index=True)
    visit_ids = Text(null=False, default="[]")  # JSON list of visit ids
    visit_count = Integer(null=False, default=0)
    details = Text(null=False, default="")  # Chinese: the facts
    state = Varchar(length=12, null=False, index=True)  # ltc.inspections.rules.State
    reason = Text(null=False, default="")
    decided_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    decided_at = Timestamptz(null=True, default=None)
    found_on = Date(null=False)  # the night it was first found
    seen_on = Date(null=False)  # the last night that found it
    version = Integer(default=1, null=False)
    created_at = Timestamptz(default=ClockNow(), null=False)
