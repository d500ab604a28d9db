"""Payout jobs: compute a draft, re-check its beneficiaries' enrolment, render a provider's
statement and a batch's summary after export, and prepare last month's drafts on the 1st.
Thin and idempotent: a job delivered twice computes the same lines or stores the same
document."""

from __future__ import annotations

from datetime import date, time

import dramatiq

from ltc.jobs.rules import Every, Schedule
from ltc.payouts import enrolment, sandbox, service, statements

SCHEDULE = Schedule(job="payouts.prepare", every=Every.month, at=time(1, 0))


@dramatiq.actor(actor_name="payouts.prepare", max_retries=3)
async def prepare(period_key: str) -> None:
    await prepare_period(period_key)


async def prepare_period(period_key: str) -> list[str]:
    """The drafts of the month before the period ("2027-01" → December 2026), so a run
    caught up after downtime still prepares the month it was scheduled for. A second
    delivery finds the drafts made (batch_exists) and changes nothing."""
    year, month = period_key.split("-")[:2]
    return await service.prepare_previous_month(date(int(year), int(month), 1))


@dramatiq.actor(actor_name=service.COMPUTE_JOB, max_retries=5)
async def compute(batch_id: int) -> None:
    await service.compute(batch_id)


class EnrolmentStillUnknown(Exception):
    """Raised to have Dramatiq retry later, with its backoff, while the system is down."""


# Backoff from one minute to one hour, for about a day: by then the clerk has been told.
@dramatiq.actor(actor_name=enrolment.RECHECK_JOB, max_retries=30, min_backoff=60_000,
                max_backoff=3_600_000)
async def recheck_enrolment(batch_id: int) -> None:
    await recheck_batch(batch_id)


async def recheck_batch(batch_id: int) -> None:
    """Ask again about a draft's unknown answers; retried until the circuit has closed and
    the system answers (a batch no longer a draft, or with nothing open, is done)."""
    if (await enrolment.verify(batch_id)).unknown:
        raise EnrolmentStillUnknown(f"batch {batch_id}: enrolment still unknown")


@dramatiq.actor(actor_name=service.STATEMENT_JOB, max_retries=5)
async def render_statement(batch_id: int, payee_key: str) -> None:
    await statements.statement_pdf(batch_id, payee_key)


@dramatiq.actor(actor_name=service.SUMMARY_JOB, max_retries=5)
async def render_summary(batch_id: int) -> None:
    await statements.summary_pdf(batch_id)


@dramatiq.actor(actor_name=sandbox.REPLAY_JOB, max_retries=0)
async def sandbox_replay(run_id: int) -> None:
    await sandbox.replay_or_fail(run_id)
