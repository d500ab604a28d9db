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
from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person


class Application(Table):
    """An application for LTC benefits (申请). States: see ltc.applications.rules."""

    number = Varchar(length=20, unique=True, null=False)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)  # the person's village path
    state = Varchar(length=12, null=False, index=True)
    applicant_name = Varchar(length=50, null=False)
    applicant_relation = Varchar(length=20, null=False)  # 本人 / 配偶 / 子女 / 其他亲属 / 机构
    applicant_phone = Varchar(length=20, null=False)
    agent_name = Varchar(length=50, null=True, default=None)  # 代办人, when someone else files
    agent_phone = Varchar(length=20, null=True, default=None)
    on_behalf_of = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True)
    disabled_since = Date(null=False)
    materials = Text(null=False, default="[]")  # JSON list of material codes provided
    refusal_grounds = Text(null=False, default="[]")  # JSON list of {code, detail}
    decision_note = Text(null=False, default="")
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz(default=ClockNow(), null=False, index=True)
    submitted_at = Timestamptz(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    # applicant: filed by or for the person; regrading: raised by a reviewer from the impact of
    # a ruleset change (改判影响), with the reason and the ruleset that would change the grade.
    accepted_at = Timestamptz(null=True, default=None)  # starts the 22号 letter deadline
    origin = Varchar(length=12, null=False, default="applicant")
    origin_reason = Text(null=False, default="")
    # 补正: what the clerk asked for, by when, and when it came (one request per application).
    materials_requested = Text(null=False, default="[]")  # JSON list of material codes
    materials_note = Text(null=False, default="")
    materials_requested_at = Timestamptz(null=True, default=None)
    materials_due_on = Date(null=True, default=None)
    materials_received_at = Timestamptz(null=True, default=None)
    # The letters, rendered after commit (ltc.applications.jobs): their stored PDFs' hashes.
    materials_notice_sha256 = Varchar(length=64, null=True, default=None)
    refusal_letter_sha256 = Varchar(length=64, null=True, default=None)
    version = Integer(default=1, null=False)
