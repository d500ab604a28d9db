from piccolo.columns import (
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.clock import ClockNow
from ltc.people.tables import Person
from ltc.policy.tables import PolicyVersion
from ltc.regions.tables import Region


class NoticeBatch(Table):
    """A public notice (公示) of concluded assessments in one town (or one village of it).
    States: ltc.notices.rules.NoticeBatchState. The period is fixed at publication."""

    number = Varchar(length=20, unique=True, null=False)
    town = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    village = ForeignKey(Region, on_delete=OnDelete.restrict, null=True)
    region_path = Varchar(length=200, null=False, index=True)  # the town's (or village's) path
    state = Varchar(length=12, null=False, index=True)
    policy_version = ForeignKey(PolicyVersion, on_delete=OnDelete.restrict, null=True)
    published_on = Date(null=True, default=None)
    starts_on = Date(null=True, default=None)
    ends_on = Date(null=True, default=None, index=True)  # last day objections are accepted
    document_sha256 = Varchar(length=64, null=True, default=None)
    document_rendered_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    published_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)
    published_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    version = Integer(default=1, null=False)
    # The bureau's contact as the pooling region had it at publication (printed on the
    # notice; publishing is refused while the region has none).
    bureau_address = Varchar(length=200, null=False, default="")
    bureau_phone = Varchar(length=30, null=False, default="")


class NoticeEntry(Table):
    """One concluded assessment in a batch. What the public sees is copied here when the entry
    is added, already masked, so the notice never changes and never leaks the ID number,
    scores or diagnoses. Outcome: ltc.notices.rules.EntryOutcome."""

    batch = ForeignKey(NoticeBatch, on_delete=OnDelete.restrict, null=False)
    assessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=False, unique=True)
    application = ForeignKey(Application, on_delete=OnDelete.restrict, null=False)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    masked_name = Varchar(length=50, null=False)
    sex = Varchar(length=1, null=False)
    age = Integer(null=False)
    village_name = Varchar(length=100, null=False)
    grade = Integer(null=False)
    grade_label = Varchar(length=20, null=False)
    organisation_name = Varchar(length=200, null=False)
    assessed_on = Date(null=False)
    outcome = Varchar(length=14, null=False, index=True)
    reassessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=True)


class Objection(Table):
    """An objection (异议) to one entry: filed on the public page, or received on paper, by
    phone or in person and recorded by a clerk."""

    entry = ForeignKey(NoticeEntry, on_delete=OnDelete.restrict, null=False)
    channel = Varchar(length=10, null=False)  # online | paper | phone | visit
    objector_name = Varchar(length=50, null=False)
    objector_phone = Varchar(length=20, null=False)
    relation = Varchar(length=50, null=False)
    reason = Text(null=False)
    client_key = Varchar(length=64, null=False, index=True)  # hashed IP, or the clerk
    recorded_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    received_at = Timestamptz(default=ClockNow(), null=False, index=True)
