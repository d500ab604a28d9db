"""Dashboard jobs: the figures every night, and on the 2nd of each month the monthly report
of the month before (thin; both are idempotent)."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.dashboard import report, service
from ltc.jobs.rules import Every, Schedule, period_day

SCHEDULE = Schedule(job="dashboard.refresh", every=Every.day, at=time(3, 0))
REPORT_SCHEDULE = Schedule(job="dashboard.monthly_report", every=Every.month, at=time(6, 0),
                           on_day=2)


@dramatiq.actor(actor_name="dashboard.refresh", max_retries=3)
async def refresh(period_key: str) -> None:
    await service.refresh_all()


@dramatiq.actor(actor_name="dashboard.monthly_report", max_retries=3)
async def monthly_report(period_key: str) -> None:
    await report.monthly(period_day(period_key))
