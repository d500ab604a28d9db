"""The enrolment check before every payout (SPEC §8), when the bureau's system answers it.

Computing a draft marks every beneficiary whose lines are paid under an entitlement still
running at the month's end (`pending`); then each is asked about the month's last day, a few
at a time. Enrolled: the mark goes. Unknown (the system down, the circuit open) or not
enrolled (the enrolment event that should have ended the entitlement never came): the mark
stays with the reason, the lines stay in the batch, and submission is refused while any
mark is open — nobody is dropped for an outage, nobody is paid unverified. A not-enrolled
mark is settled by recording the enrolment event (the recompute then has no line for the
person, so no mark) or by a re-check that now says enrolled; unknown ones by the clerk's
re-check or the job, which retries with backoff until the system answers.

With the local adapter (the default) nothing is marked: its enrolment table already drives
entitlements through enrolment events and imports, so the computation has used it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.enrollment import interface as enrolment
from ltc.errors import Conflict
from ltc.identity import SYSTEM
from ltc.jobs import outbox
from ltc.payouts.computation import Dialect
from ltc.payouts.rules import BatchState
from ltc.payouts.tables import PayoutBatch, PayoutEnrolmentMark
from ltc.people import interface as people

RECHECK_JOB = "payouts.recheck_enrolment"
CONCURRENCY = 8  # checks in flight at once: the bureau's system is shared with others
STATUS_LABELS = {"pending": "待核验", "unknown": "参保状态暂无法查询",
                 "not_enrolled": "医保系统答复未参保"}


@dataclass(frozen=True)
class Outcome:
    checked: int
    enrolled: int
    unknown: int
    not_enrolled: int


def mark_beneficiaries(d: Dialect, batch_id: int, month: date) -> str:
    """Inside the computation's transaction, after its lines: the beneficiaries to ask
    about, marked `pending`. An entitlement ended by the month's end needs no check: its
    end (death, the enrolment event) is already the reason it pays no further."""
    last = d.day(clock.month_last(month))
    return (
        "INSERT INTO payout_enrolment_mark (batch, person, status, reason) "
        f"SELECT DISTINCT l.batch, l.person, 'pending', '' FROM payout_line l "
        "JOIN entitlement e ON e.id = l.entitlement "
        f"WHERE l.batch = {int(batch_id)} AND (e.ends_on IS NULL OR e.ends_on >= {last})")


async def reset_marks(d: Dialect, batch_id: int, month: date) -> None:
    """The computation's part: the marks follow the new lines (none with the local
    adapter)."""
    await PayoutEnrolmentMark.delete().where(PayoutEnrolmentMark.batch == batch_id)
    if enrolment.is_remote(enrolment.configured_gateway()):
        await PayoutEnrolmentMark.raw(mark_beneficiaries(d, batch_id, month))


async def verify(batch_id: int) -> Outcome:
    """Ask about every open mark of a draft (outside any transaction: remote calls), then
    record the answers in one. A mark re-made by a recomputation meanwhile has a new id,
    so a late answer never touches it."""
    gateway = enrolment.configured_gateway()
    batch = await PayoutBatch.select(PayoutBatch.month, PayoutBatch.state).where(
        PayoutBatch.id == batch_id).first()
    if batch is None or batch["state"] != BatchState.DRAFT or not enrolment.is_remote(gateway):
        return Outcome(0, 0, 0, 0)
    marks = await PayoutEnrolmentMark.select(
        PayoutEnrolmentMark.id, PayoutEnrolmentMark.person).where(
        PayoutEnrolmentMark.batch == batch_id)
    on = clock.month_last(batch["month"])
    slots = asyncio.Semaphore(CONCURRENCY)

    async def ask(person_id: int) -> enrolment.EnrollmentCheck:
        async with slots:
            person = await people.person_by_id(person_id)
            assert person is not None  # a line's person is never deleted
            return await gateway.check(person.resident_id, on)

    checks = await asyncio.gather(*(ask(m["person"]) for m in marks))
    counts = Counter(str(c.status) for c in checks)
    async with db.write_transaction():
        now = clock.now()
        for mark, check in zip(marks, checks, strict=True):
            where = PayoutEnrolmentMark.id == mark["id"]
            if check.enrolled:
                await PayoutEnrolmentMark.delete().where(where)
            else:
                await PayoutEnrolmentMark.update({
                    PayoutEnrolmentMark.status: str(check.status),
                    PayoutEnrolmentMark.reason: check.reason or "",
                    PayoutEnrolmentMark.checked_at: now}).where(where)
        outcome = Outcome(len(checks), counts["enrolled"], counts["unknown"],
                          counts["not_enrolled"])
        if checks:
            await audit.record(SYSTEM, "payout_batch.enrolment_checked", "payout_batch",
                               batch_id, after=asdict(outcome))
    return outcome


async def verify_after_compute(batch_id: int) -> Outcome:
    """The computation's second half; while answers are unknown the job tries again."""
    outcome = await verify(batch_id)
    if outcome.unknown:
        async with db.write_transaction():
            await outbox.enqueue(RECHECK_JOB, batch_id)
    return outcome


SHOWN_MARKS = 100  # the batch page lists these; a whole city may be marked while it is down


async def open_marks(batch_id: int, person_id: int | None = None,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """Each open mark (of one person, when given; the first `limit`, when given) with the
    person and how many lines it holds back."""
    person = "" if person_id is None else f"AND m.person = {int(person_id)} "
    first = "" if limit is None else f" LIMIT {int(limit)}"
    rows = await PayoutEnrolmentMark.raw(
        "SELECT m.id, m.person, m.status, m.reason, m.checked_at, COUNT(l.id) AS lines "
        "FROM payout_enrolment_mark m LEFT JOIN payout_line l "
        f"ON l.batch = m.batch AND l.person = m.person WHERE m.batch = {{}} {person}"
        f"GROUP BY m.id, m.person, m.status, m.reason, m.checked_at ORDER BY m.id{first}",
        batch_id)
    briefs = await people.briefs_of([r["person"] for r in rows])
    return [{**r, "name": briefs[r["person"]].name,
             "resident_id_masked": briefs[r["person"]].resident_id_masked,
             "status_label": STATUS_LABELS[r["status"]]} for r in rows]


@dataclass(frozen=True)
class MarkTotals:
    people: int
    lines: int
    by_status: dict[str, int]


async def mark_totals(batch_id: int) -> MarkTotals:
    """How many people and lines the open marks hold back, by status, in one aggregate."""
    rows = await PayoutEnrolmentMark.raw(
        "SELECT m.status, COUNT(DISTINCT m.id) AS people, COUNT(l.id) AS lines "
        "FROM payout_enrolment_mark m LEFT JOIN payout_line l "
        "ON l.batch = m.batch AND l.person = m.person WHERE m.batch = {} GROUP BY m.status",
        batch_id)
    return MarkTotals(sum(r["people"] for r in rows), sum(r["lines"] for r in rows),
                      {r["status"]: r["people"] for r in rows})


async def refuse_unverified(batch_id: int) -> None:
    """Submission's guard: no line is paid while its beneficiary's enrolment is open."""
    totals = await mark_totals(batch_id)
    if not totals.people:
        return
    raise Conflict(
        "enrolment_unverified",
        f"有{totals.lines}条结算明细（{totals.people}人）的参保状态未核验通过（"
        + "、".join(f"{STATUS_LABELS[s]}{n}人" for s, n in sorted(totals.by_status.items()))
        + "），不能提交；请重新核验参保，医保系统答复未参保的请先登记参保事件后重新计算",
        {"lines": str(totals.lines), "people": str(totals.people)})
