"""Evidence jobs: the daily removal of resumable uploads past their keeping period (thin; the
service decides what has expired)."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.evidence import resumable
from ltc.jobs.rules import Every, Schedule
from ltc.settings import Settings

SCHEDULE = Schedule(job="evidence.purge_uploads", every=Every.day, at=time(3, 20))


@dramatiq.actor(actor_name="evidence.purge_uploads", max_retries=3)
async def purge_uploads(period_key: str) -> None:
    await resumable.purge_expired(Settings.from_env().media_dir)
