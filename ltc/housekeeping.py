"""Daily housekeeping across contexts (so it sits beside the app, above them): expired
sessions, old login attempts, old outbox rows and receipts, the enrolment system's answers
of earlier days, the policy sandbox's replayed lines of old runs, and upload temp files left
behind by a process killed mid-upload."""

from __future__ import annotations

from datetime import time, timedelta

import dramatiq

from ltc import clock
from ltc.accounts.tables import LoginAttempt, WebSession
from ltc.enrollment.tables import EnrollmentAnswer
from ltc.evidence.storage import remove_stale_temps
from ltc.jobs.rules import Every, Schedule
from ltc.jobs.tables import JobReceipt, OutboxMessage
from ltc.payouts import sandbox
from ltc.settings import Settings

# Long enough that a re-sent outbox message is still recognised; short enough to stay small.
KEEP_DAYS = 30

SCHEDULE = Schedule(job="housekeeping.purge", every=Every.day, at=time(3, 0))


@dramatiq.actor(actor_name="housekeeping.purge", max_retries=3)
async def purge(period_key: str) -> None:
    await purge_expired()


async def purge_expired() -> None:
    now = clock.now()
    cutoff = now - timedelta(days=KEEP_DAYS)
    await WebSession.delete().where(WebSession.expires_at < now)
    await LoginAttempt.delete().where(LoginAttempt.at < cutoff)
    await OutboxMessage.delete().where(OutboxMessage.sent_at < cutoff)
    await JobReceipt.delete().where(JobReceipt.done_at < cutoff)
    # Only the day's answers are ever read (ltc.enrollment.remote).
    await EnrollmentAnswer.delete().where(EnrollmentAnswer.answered_on < clock.today())
    await sandbox.purge_scratch_lines(cutoff)
    remove_stale_temps(Settings.from_env().media_dir)
