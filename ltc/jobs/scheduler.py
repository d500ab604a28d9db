"""The scheduler: schedules are rows, not delayed messages.

Each tick, for every due period, it inserts (job, period_key) into scheduled_run; the UNIQUE
index lets exactly one insert win, and only the winner writes the job to the outbox, in the
same transaction. So several schedulers, restarts and catch-up after downtime give exactly one
run per period, and auditors can see every run that was ever scheduled.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import anyio

from ltc import clock, db
from ltc.jobs import outbox
from ltc.jobs.rules import Schedule, due_periods
from ltc.jobs.tables import ScheduledRun

log = logging.getLogger(__name__)


async def tick(schedules: list[Schedule], now: datetime, tz: ZoneInfo) -> list[tuple[str, str]]:
    """Schedule every due run not yet scheduled; returns the (job, period_key) pairs won."""
    won = []
    now_local = now.astimezone(tz)
    for schedule in schedules:
        for key in due_periods(schedule, now_local):
            async with db.write_transaction():
                inserted = await (
                    ScheduledRun.insert(ScheduledRun(job=schedule.job, period_key=key))
                    .on_conflict(action="DO NOTHING")
                    .returning(ScheduledRun.id)
                )
                if inserted:
                    await outbox.enqueue(schedule.job, key)
                    won.append((schedule.job, key))
    for job, key in won:
        log.info("scheduled %s for %s", job, key)
    return won


async def run_forever(schedules: list[Schedule], tz: ZoneInfo, interval: float = 30) -> None:
    while True:
        try:
            await tick(schedules, clock.now(), tz)
        except Exception:
            log.exception("scheduler tick failed")
        await anyio.sleep(interval)
