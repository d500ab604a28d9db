"""Decision letters rendered after a decision; the daily entitlement refresh (expiry,
suspensions starting or ending, re-assessment tasks before expiry)."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.audit.documents import render_and_record
from ltc.entitlements import service
from ltc.entitlements.tables import Decision
from ltc.jobs.rules import Every, Schedule, period_day

SCHEDULE = Schedule(job="entitlements.refresh", every=Every.day, at=time(0, 20))


@dramatiq.actor(actor_name="entitlements.refresh", max_retries=3)
async def refresh(period_key: str) -> None:
    await service.refresh_all(period_day(period_key))


@dramatiq.actor(actor_name="decisions.render_letter", max_retries=5)
async def render_letter(decision_id: int) -> None:
    await render_decision_letter(decision_id)


async def render_decision_letter(decision_id: int) -> str:
    """Render and store the decision letter; idempotent like the notice documents."""
    context = await service.letter_context(decision_id)
    return await render_and_record(
        "pdf/decision_letter.html", context, Decision.letter_sha256, decision_id,
        rendered_at=Decision.letter_rendered_at, action="decision.letter_rendered",
        object_type="decision")
