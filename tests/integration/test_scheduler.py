"""Schedules are rows: one run per period, however many schedulers tick at once."""

from datetime import datetime, time

import anyio
import pytest

from ltc.clock import CHINA
from ltc.jobs import scheduler
from ltc.jobs.rules import Every, Schedule
from ltc.jobs.tables import OutboxMessage, ScheduledRun

pytestmark = pytest.mark.anyio

DAILY = Schedule(job="test.daily", every=Every.day, at=time(2, 0), catch_up=3)
MONTHLY = Schedule(job="test.monthly", every=Every.month, at=time(1, 0), catch_up=2)


async def test_two_schedulers_give_one_run_per_period(database_url) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=CHINA)
    results: list = []

    async def one_scheduler() -> None:
        for _ in range(3):
            results.extend(await scheduler.tick([DAILY, MONTHLY], now, CHINA))

    async with anyio.create_task_group() as group:
        group.start_soon(one_scheduler)
        group.start_soon(one_scheduler)

    runs = sorted((r["job"], r["period_key"]) for r in await ScheduledRun.select())
    assert runs == [("test.daily", "2026-11-20"), ("test.daily", "2026-11-21"),
                    ("test.daily", "2026-11-22"), ("test.monthly", "2026-10"),
                    ("test.monthly", "2026-11")]
    assert sorted(results) == runs  # each period won exactly once
    jobs = sorted((m["actor_name"], m["args"]) for m in await OutboxMessage.select())
    assert jobs == [(job, f'["{key}"]') for job, key in runs]


async def test_catch_up_after_downtime_and_nothing_twice(database_url) -> None:
    await scheduler.tick([DAILY], datetime(2026, 11, 20, 3, 0, tzinfo=CHINA), CHINA)
    # Down for two days; on restart the missed day and today both run, the old ones don't.
    won = await scheduler.tick([DAILY], datetime(2026, 11, 22, 3, 0, tzinfo=CHINA), CHINA)
    assert won == [("test.daily", "2026-11-21"), ("test.daily", "2026-11-22")]
    assert await ScheduledRun.count() == 5
