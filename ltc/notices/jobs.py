"""Notice jobs: render a batch's document after publication; close due batches daily."""

from __future__ import annotations

from datetime import time

import dramatiq

from ltc.audit.documents import render_and_record
from ltc.jobs.rules import Every, Schedule, period_day
from ltc.notices import service
from ltc.notices.tables import NoticeBatch
from ltc.settings import Settings

SCHEDULE = Schedule(job="notices.close_due", every=Every.day, at=time(0, 10))


@dramatiq.actor(actor_name="notices.close_due", max_retries=3)
async def close_due(period_key: str) -> None:
    await service.close_due(period_day(period_key))


@dramatiq.actor(actor_name="notices.render_document", max_retries=5)
async def render_document(batch_id: int) -> None:
    await render_batch_document(batch_id)


async def render_batch_document(batch_id: int) -> str:
    """Render and store the batch's PDF; idempotent (same batch → same bytes → same hash)."""
    context = await service.document_context(batch_id, Settings.from_env().public_url)
    return await render_and_record(
        "pdf/notice_batch.html", context, NoticeBatch.document_sha256, batch_id,
        rendered_at=NoticeBatch.document_rendered_at, action="notice_batch.document_rendered",
        object_type="notice_batch")
