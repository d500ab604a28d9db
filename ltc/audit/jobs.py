"""The nightly walk of the audit chain and its signed checkpoint; the result is itself an
audit event."""

from __future__ import annotations

import logging
from datetime import time

import dramatiq

from ltc import db
from ltc.audit import service
from ltc.identity import SYSTEM
from ltc.jobs.rules import Every, Schedule
from ltc.settings import Settings

log = logging.getLogger(__name__)

SCHEDULE = Schedule(job="audit.verify_chain", every=Every.day, at=time(2, 0))


@dramatiq.actor(actor_name="audit.verify_chain", max_retries=3)
async def verify_chain(period_key: str) -> None:
    await nightly_check(Settings.from_env(), period_key)


async def nightly_check(settings: Settings, period_key: str) -> None:
    """Verify, then checkpoint the head when intact: the checkpoint pins tonight's events
    against a later rewrite. Delivered twice, the second run finds the head checkpointed
    (unless events came in between, such as the first run's result, which deserve their
    own checkpoint anyway)."""
    verification, written = await service.checkpoint(settings)
    if broken := verification.broken:
        log.error("audit chain broken at event %s: %s", broken.seq, broken.reason)
    if bad := verification.bad_checkpoint:
        log.error("audit checkpoint %s does not hold: %s", *bad)
    if written:
        log.info("audit checkpoint written: %s", written)
    async with db.write_transaction():
        await service.record(
            SYSTEM, "audit.chain_verified" if verification.intact else "audit.chain_broken",
            "audit_chain", period_key, after=_result(verification))


def _result(verification: service.Verification) -> dict[str, object]:
    result: dict[str, object] = {"checked": verification.checked,
                                 "checkpoints": verification.checkpoints}
    if broken := verification.broken:
        result |= {"seq": broken.seq, "reason": broken.reason}
    if bad := verification.bad_checkpoint:
        result |= {"checkpoint": bad[0], "reason": bad[1]}
    return result
