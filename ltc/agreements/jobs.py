"""Agreement jobs (being built): the daily expiry and reminder pass; agreement documents."""

from __future__ import annotations

from datetime import time

from ltc.jobs.rules import Every, Schedule

SCHEDULE = Schedule(job="agreements.daily", every=Every.day, at=time(0, 30))
