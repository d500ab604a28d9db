"""Sanction jobs: the daily pass that ends organisations' suspensions (thin; the service is
idempotent)."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.jobs.rules import Every, Schedule, period_day
from ltc.sanctions import service

SCHEDULE = Schedule(job="sanctions.daily", every=Every.day, at=time(0, 40))


@dramatiq.actor(actor_name="sanctions.daily", max_retries=3)
async def daily(period_key: str) -> None:
    await service.daily(period_day(period_key))
