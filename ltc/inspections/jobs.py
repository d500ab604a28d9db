"""The nightly 稽核 run (ltc.inspections.service.run_night). Thin and idempotent: findings are
stored by a stable key, so a second delivery of the same night adds nothing and reopens
nothing."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.inspections import service
from ltc.jobs.rules import Every, Schedule, period_day

# After the day's visits are in and before the morning (the demo's nights run to 01:30).
SCHEDULE = Schedule(job="inspections.nightly", every=Every.day, at=time(1, 15))


@dramatiq.actor(actor_name="inspections.nightly", max_retries=3, time_limit=30 * 60 * 1000)
async def nightly(period_key: str) -> None:
    await service.run_night(period_day(period_key))
