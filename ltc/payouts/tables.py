from piccolo.columns import (
    BigInt,
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
from ltc.agreements.tables import Agreement
from ltc.clock import ClockNow
from ltc.entitlements.tables import Entitlement
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.policy.tables import PolicyVersion


class PayoutBatch(Table):
    """月度结算: one per pooling region and month (unique index on both, raw migration).
    States: ltc.payouts.rules.BatchState. The database refuses an approver who is the
    submitter (CHECK on PostgreSQL, trigger on SQLite)."""

    number = Varchar(length=24, unique=True, null=False)  # JS370983202611
    region_path = Varchar(length=200, null=False)
    month = Date(null=False)  # its first day
    state = Varchar(length=12, null=False, index=True)
    policy_version = ForeignKey(PolicyVersion, on_delete=OnDelete.restrict, null=False)
    computing_since = Timestamptz(null=True, default=None)  # a computation is under way
    computed_at = Timestamptz(null=True, default=None)
    compute_seconds = Integer(null=True, default=None)  # how long the last one took
    line_count = Integer(null=False, default=0)
    gross_fen = BigInt(null=False, default=0)
    withheld_fen = BigInt(null=False, default=0)
    net_fen = BigInt(null=False, default=0)
    submitted_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    submitted_at = Timestamptz(null=True, default=None)
    approved_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    approved_at = Timestamptz(null=True, default=None)
    returned_reason = Text(null=False, default="")
    exported_at = Timestamptz(null=True, default=None)
    bank_file_sha256 = Varchar(length=64, null=True, default=None)
    summary_sha256 = Varchar(length=64, null=True, default=None)
    reconciled_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)


class Payment(Table):
    """One bank transfer of an exported batch: a payee's lines summed (unique per batch and
    payee). The reference is unique across all batches and never reused. Status pending →
    paid | failed; offset for a negative total and unpayable without a bank account (both
    never sent); a failed, offset or unpayable payment's lines are carried into the next
    batch (`carried_into`)."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False)
    reference = Varchar(length=40, unique=True, null=False)
    payee_key = Varchar(length=40, null=False)
    payee_name = Varchar(length=100, null=False)
    bank_name = Varchar(length=100, null=False, default="")
    bank_account = Varchar(length=40, null=False, default="")
    bank_account_name = Varchar(length=200, null=False, default="")  # 户名, "" = payee_name
    amount_fen = BigInt(null=False)
    status = Varchar(length=10, null=False, default="pending")
    failure_reason = Text(null=False, default="")
    reconciled_at = Timestamptz(null=True, default=None)
    reconciliation_sha256 = Varchar(length=64, null=True, default=None)
    carried_into = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=True)


class PayoutLine(Table):
    """One payee's money for one beneficiary, benefit and service month in a batch, with the
    structured facts that explain it (ltc.payouts.rules.explain). Unique per (batch, payee,
    beneficiary, benefit, service month, kind) by a raw index. A line is never updated, and
    deleted only while its batch is DRAFT (database triggers); its payment is the batch's
    Payment of the same payee. On PostgreSQL its references are not foreign-key
    constraints (see the payouts migration): lines are made only by INSERT … SELECT from
    the rows they name, and those rows are never deleted."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False)
    kind = Varchar(length=14, null=False)  # regular | adjustment | carry_forward
    benefit = Varchar(length=16, null=False)  # family_subsidy | home_visit | institutional
    service_month = Date(null=False)  # the month the money is for
    payee_key = Varchar(length=40, null=False)  # org:<id> | cg:<caregiver resident id>
    payee_name = Varchar(length=100, null=False)
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True)
    agreement = ForeignKey(Agreement, on_delete=OnDelete.restrict, null=True)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    entitlement = ForeignKey(Entitlement, on_delete=OnDelete.restrict, null=True)
    region_path = Varchar(length=200, null=False)
    grade = Integer(null=False, default=0)
    days = Integer(null=False, default=0)  # active (subsidy) or active bed-days
    days_in_month = Integer(null=False, default=0)
    visits_counted = Integer(null=False, default=0)
    visits_excluded = Integer(null=False, default=0)
    # How each home visit of the month was treated: "visit id:reason" pairs, comma-separated,
    # the reason empty for a paid visit (ltc.payouts.rules.treatments reads it).
    visit_treatments = Text(null=False, default="")
    rate_fen = BigInt(null=False, default=0)  # per month, per visit or per bed-day
    gross_fen = BigInt(null=False)
    withheld_fen = BigInt(null=False, default=0)
    net_fen = BigInt(null=False)
    # adjustment: what was paid before for the same payee, beneficiary, benefit and month
    previous_gross_fen = BigInt(null=False, default=0)
    previous_days = Integer(null=False, default=0)
    previous_visits = Integer(null=False, default=0)
    adjusts = ForeignKey("self", on_delete=OnDelete.restrict, null=True)
    carried_payment = ForeignKey(Payment, on_delete=OnDelete.restrict, null=True)
    policy_version = ForeignKey(PolicyVersion, on_delete=OnDelete.restrict, null=False)


class DepositEntry(Table):
    """The quality deposit ledger (质量保证金) of a provider: + withheld at approval,
    − released or forfeited later by a reviewer with a reason."""

    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False, index=True)
    kind = Varchar(length=10, null=False)  # withheld | released | forfeited
    amount_fen = BigInt(null=False)
    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=True)
    reason = Text(null=False, default="")
    recorded_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    at = Timestamptz(default=ClockNow(), null=False)


class PayoutDocument(Table):
    """A stored file of a batch (bank file, summary, statements), by its SHA-256."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False)
    kind = Varchar(length=16, null=False)  # bank_file | summary | statement | reconciliation
    payee_key = Varchar(length=40, null=False, default="")
    sha256 = Varchar(length=64, null=False)
    rendered_at = Timestamptz(default=ClockNow(), null=False)


class PayoutDeclaration(Table):
    """A provider's declaration (申报, 22号) of its lines in a draft: it confirms exactly the
    lines it saw, named by their fingerprint (ltc.payouts.rules.lines_fingerprint). A
    recomputation that changes those lines, or a dispute the provider raises, voids it
    (`voided_at`, with the reason); the provider then declares again."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False, index=True)
    payee_key = Varchar(length=40, null=False)
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    lines_sha256 = Varchar(length=64, null=False)
    line_count = Integer(null=False, default=0)
    net_fen = BigInt(null=False, default=0)
    declared_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    declared_at = Timestamptz(default=ClockNow(), null=False)
    voided_at = Timestamptz(null=True, default=None)
    void_reason = Text(null=False, default="")


class PayoutDispute(Table):
    """A provider's objection to one of its draft lines, with its reason, settled by the
    clerk's first review (初审): upheld (the cause fixed and the batch recomputed, or the
    line excluded from the batch) or rejected, with an answer the provider reads. Lines are
    recomputed (deleted and inserted again), so the dispute names the line by what it is
    for: payee, beneficiary, benefit, service month and kind."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False, index=True)
    payee_key = Varchar(length=40, null=False)
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    benefit = Varchar(length=16, null=False)
    service_month = Date(null=False)
    kind = Varchar(length=14, null=False)
    net_fen = BigInt(null=False, default=0)  # the line's amount when disputed
    reason = Text(null=False, default="")
    raised_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    raised_at = Timestamptz(default=ClockNow(), null=False)
    state = Varchar(length=10, null=False, default="open")  # open | upheld | rejected
    outcome = Varchar(length=10, null=False, default="")  # "" | recompute | exclude
    answer = Text(null=False, default="")
    settled_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    settled_at = Timestamptz(null=True, default=None)
    version = Integer(default=1, null=False)


class PayoutEnrolmentMark(Table):
    """A beneficiary of a draft whose lines wait for the enrolment check (only when the
    bureau's system answers it: ltc.payouts.enrolment). `pending` from the computation until
    asked; `unknown` when the system could not answer; `not_enrolled` when it says so (the
    enrolment event that should have ended the entitlement never came). While any mark is
    open the batch cannot be submitted; an `enrolled` answer deletes the mark. Unique per
    (batch, person) by a raw index."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    status = Varchar(length=12, null=False, default="pending")
    reason = Text(null=False, default="")  # Chinese, as the system or the adapter put it
    checked_at = Timestamptz(null=True, default=None)


class SandboxRun(Table):
    """A policy sandbox replay (政策沙盘): a past month of a pooling region computed again by
    ltc.payouts.computation under another policy version (a draft) and optionally the grades
    of another assessment ruleset, into `sandbox_line` — never into payout_line, so no real
    page, query, submission or export can see it. Kept per run to be compared and listed.
    States: queued → running → done | failed."""

    region_path = Varchar(length=200, null=False, index=True)
    month = Date(null=False)  # its first day
    policy_version = ForeignKey(PolicyVersion, on_delete=OnDelete.restrict, null=False)
    ruleset = Varchar(length=60, null=False, default="")  # code@version, "" = grades as they are
    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=True)  # compared with
    state = Varchar(length=10, null=False, default="queued")
    error = Text(null=False, default="")
    regraded = Integer(null=False, default=0)  # people the ruleset grades differently
    line_count = Integer(null=False, default=0)
    gross_fen = BigInt(null=False, default=0)
    net_fen = BigInt(null=False, default=0)
    real_gross_fen = BigInt(null=False, default=0)  # the real batch's regular lines
    real_net_fen = BigInt(null=False, default=0)
    people_changed = Integer(null=False, default=0)
    # JSON: [[town path, benefit, real gross fen, replayed gross fen], …]
    summary = Text(null=False, default="[]")
    seconds = Integer(null=True, default=None)
    started_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz(default=ClockNow(), null=False)
    finished_at = Timestamptz(null=True, default=None)


class SandboxLine(Table):
    """A replayed line: payout_line's columns, `batch` holding the sandbox run's id so the one
    INSERT … SELECT of ltc.payouts.computation fills either table. No foreign keys: the rows
    are scratch, made set-based and dropped with their run."""

    batch = Integer(null=False)  # the SandboxRun
    kind = Varchar(length=14, null=False)
    benefit = Varchar(length=16, null=False)
    service_month = Date(null=False)
    payee_key = Varchar(length=40, null=False)
    payee_name = Varchar(length=100, null=False)
    organisation = Integer(null=True)
    agreement = Integer(null=True)
    person = Integer(null=False)
    entitlement = Integer(null=True)
    region_path = Varchar(length=200, null=False)
    grade = Integer(null=False, default=0)
    days = Integer(null=False, default=0)
    days_in_month = Integer(null=False, default=0)
    visits_counted = Integer(null=False, default=0)
    visits_excluded = Integer(null=False, default=0)
    visit_treatments = Text(null=False, default="")
    rate_fen = BigInt(null=False, default=0)
    gross_fen = BigInt(null=False)
    withheld_fen = BigInt(null=False, default=0)
    net_fen = BigInt(null=False)
    previous_gross_fen = BigInt(null=False, default=0)
    previous_days = Integer(null=False, default=0)
    previous_visits = Integer(null=False, default=0)
    adjusts = Integer(null=True)
    carried_payment = Integer(null=True)
    policy_version = Integer(null=False)


class SandboxGrade(Table):
    """A grade the run's ruleset gives a person other than their concluded one."""

    run = Integer(null=False)
    person = Integer(null=False)
    grade = Integer(null=False)


class SandboxPerson(Table):
    """A person whose month differs between the real batch and the replay: grade,
    eligibility (lines at all) or money. `change`: ltc.payouts.rules.SandboxChange."""

    run = ForeignKey(SandboxRun, on_delete=OnDelete.restrict, null=False, index=True)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, default="")
    change = Varchar(length=10, null=False)
    real_grade = Integer(null=False, default=0)
    new_grade = Integer(null=False, default=0)
    real_gross_fen = BigInt(null=False, default=0)
    new_gross_fen = BigInt(null=False, default=0)


class PayoutBatchFigures(Table):
    """Marks a batch whose page figures were stored when it was computed (its lines never
    change after that; a recomputation replaces them), with last month's batch its approval
    checks compared against (none: nothing to compare)."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False, unique=True)
    previous_batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=True)


class PayoutBatchTotal(Table):
    """A computed batch's totals by town and benefit: what the batch page shows."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False, index=True)
    town = Varchar(length=20, null=False, default="")
    benefit = Varchar(length=16, null=False)
    line_count = Integer(null=False, default=0)
    excluded_lines = Integer(null=False, default=0)  # lines excluding some visits
    gross_fen = BigInt(null=False, default=0)
    withheld_fen = BigInt(null=False, default=0)
    net_fen = BigInt(null=False, default=0)


class PayoutBatchProvider(Table):
    """A computed batch's provider payee (caregivers do not declare) with its lines and
    total: the rows of the batch page's declarations."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False, index=True)
    payee_key = Varchar(length=40, null=False)
    payee_name = Varchar(length=100, null=False)
    line_count = Integer(null=False, default=0)
    net_fen = BigInt(null=False, default=0)


class PayoutBatchAnomaly(Table):
    """A payee the approval checks show (new, or changed more than 30 % against last month),
    as found when the batch was computed."""

    batch = ForeignKey(PayoutBatch, on_delete=OnDelete.restrict, null=False, index=True)
    payee_key = Varchar(length=40, null=False)
    payee_name = Varchar(length=100, null=False)
    previous_fen = BigInt(null=True, default=None)
    current_fen = BigInt(null=False, default=0)
    why = Varchar(length=8, null=False)
