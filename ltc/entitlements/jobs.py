"""Decision letters rendered after a decision; the daily entitlement refresh (expiry,
suspensions starting or ending, re-assessment tasks before expiry)."""

from __future__ import annotations

import functools
from datetime import time

import anyio
import dramatiq

from ltc import clock, db, documents, pdf
from ltc.accounts.rules import SYSTEM
from ltc.audit import service as audit
from ltc.entitlements import service
from ltc.entitlements.tables import Decision
from ltc.jobs.rules import Every, Schedule

SCHEDULE = Schedule(job="entitlements.refresh", every=Every.day, at=time(0, 20))


@dramatiq.actor(actor_name="entitlements.refresh", max_retries=3)
async def refresh(period_key: str) -> None:
    await service.refresh_all(clock.today())


@dramatiq.actor(actor_name="decisions.render_letter", max_retries=5)
async def render_letter(decision_id: int) -> None:
    await render_decision_letter(decision_id)


async def render_decision_letter(decision_id: int) -> str:
    """Render and store the decision letter; idempotent like the notice documents."""
    context = await service.letter_context(decision_id)
    data = await anyio.to_thread.run_sync(functools.partial(
        pdf.render, "pdf/decision_letter.html", context))
    sha256 = await anyio.to_thread.run_sync(documents.store, data)
    async with db.write_transaction():
        before = await Decision.select(Decision.letter_sha256).where(
            Decision.id == decision_id).first()
        if before["letter_sha256"] != sha256:
            await Decision.update({Decision.letter_sha256: sha256,
                                   Decision.letter_rendered_at: clock.now()}).where(
                Decision.id == decision_id)
            await audit.record(SYSTEM, "decision.letter_rendered", "decision", decision_id,
                               after={"sha256": sha256, "bytes": len(data)})
    return sha256
