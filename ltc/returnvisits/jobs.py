"""The monthly return-visit draw: on the 1st, last month's sample in every pooling region.
Thin and idempotent: a second delivery finds each region's draw made and changes nothing."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.jobs.rules import Every, Schedule, period_day
from ltc.returnvisits import service

SCHEDULE = Schedule(job="returnvisits.draw", every=Every.month, at=time(2, 30))


@dramatiq.actor(actor_name="returnvisits.draw", max_retries=3)
async def draw(period_key: str) -> None:
    await draw_period(period_key)


async def draw_period(period_key: str) -> list[str]:
    """The month before the period ("2027-01" → December 2026), so a run caught up after
    downtime still draws the month it was scheduled for."""
    return await service.draw_previous_month(period_day(period_key))
