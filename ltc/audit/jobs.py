"""The nightly walk of the audit chain; its result is itself an audit event."""

from __future__ import annotations

import logging
from datetime import time

import dramatiq

from ltc import db
from ltc.audit import service
from ltc.identity import SYSTEM
from ltc.jobs.rules import Every, Schedule

log = logging.getLogger(__name__)

SCHEDULE = Schedule(job="audit.verify_chain", every=Every.day, at=time(2, 0))


@dramatiq.actor(actor_name="audit.verify_chain", max_retries=3)
async def verify_chain(period_key: str) -> None:
    checked, broken = await service.verify_chain()
    if broken:
        log.error("audit chain broken at event %s: %s", broken.seq, broken.reason)
    async with db.write_transaction():
        await service.record(
            SYSTEM, "audit.chain_broken" if broken else "audit.chain_verified", "audit_chain",
            period_key,
            after={"checked": checked, **({"seq": broken.seq, "reason": broken.reason}
                                          if broken else {})},
        )
