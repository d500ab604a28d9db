"""Payout jobs: compute a draft, render a provider's statement and a batch's summary after
export, and prepare last month's drafts on the 1st. Thin and idempotent: a job delivered
twice computes the same lines or stores the same document."""

from __future__ import annotations

from datetime import date, time

import dramatiq

from ltc.jobs.rules import Every, Schedule
from ltc.payouts import sandbox, service, statements

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


@dramatiq.actor(actor_name=service.STATEMENT_JOB, max_retries=5)
async def render_statement(batch_id: int, payee_key: str) -> None:
    await statements.statement_pdf(batch_id, payee_key)


@dramatiq.actor(actor_name=service.SUMMARY_JOB, max_retries=5)
async def render_summary(batch_id: int) -> None:
    await statements.summary_pdf(batch_id)


@dramatiq.actor(actor_name=sandbox.REPLAY_JOB, max_retries=0)
async def sandbox_replay(run_id: int) -> None:
    await sandbox.replay_or_fail(run_id)
