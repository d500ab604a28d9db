"""Agreement jobs: the daily expiry and reminder pass; the agreement document rendered after
activation."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.agreements import service
from ltc.agreements.tables import Agreement
from ltc.audit.documents import render_and_record
from ltc.jobs.rules import Every, Schedule, period_day

SCHEDULE = Schedule(job="agreements.daily", every=Every.day, at=time(0, 30))
TEMPLATE = "pdf/agreement.html"
AMENDMENT_TEMPLATE = "pdf/agreement_amendment.html"  # 补充协议


@dramatiq.actor(actor_name="agreements.daily", max_retries=3)
async def daily(period_key: str) -> None:
    await service.daily(period_day(period_key))


@dramatiq.actor(actor_name="agreements.render_document", max_retries=5)
async def render_document(agreement_id: int) -> None:
    await render_agreement_document(agreement_id)


async def render_agreement_document(agreement_id: int) -> str:
    """Render and store the agreement's PDF (an amendment's: its supplement) and record its
    hash; idempotent (the same agreement gives the same bytes, so a second delivery changes
    nothing)."""
    context = await service.document_context(agreement_id)
    return await render_and_record(
        AMENDMENT_TEMPLATE if context["amendment"] else TEMPLATE, context,
        Agreement.document_sha256, agreement_id,
        action="agreement.document_rendered", object_type="agreement")
