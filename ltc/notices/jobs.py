"""Notice jobs: render a batch's document after publication; close due batches daily."""

from __future__ import annotations

import functools
from datetime import time

import anyio
import dramatiq

from ltc import clock, db, documents, pdf
from ltc.accounts.rules import SYSTEM
from ltc.audit import service as audit
from ltc.jobs.rules import Every, Schedule
from ltc.notices import service
from ltc.notices.tables import NoticeBatch
from ltc.settings import Settings

SCHEDULE = Schedule(job="notices.close_due", every=Every.day, at=time(0, 10))


@dramatiq.actor(actor_name="notices.close_due", max_retries=3)
async def close_due(period_key: str) -> None:
    await service.close_due(clock.today())


@dramatiq.actor(actor_name="notices.render_document", max_retries=5)
async def render_document(batch_id: int) -> None:
    await render_batch_document(batch_id)


async def render_batch_document(batch_id: int) -> str:
    """Render and store the batch's PDF; idempotent (same batch → same bytes → same hash)."""
    context = await service.document_context(batch_id, Settings.from_env().public_url)
    data = await anyio.to_thread.run_sync(functools.partial(
        pdf.render, "pdf/notice_batch.html", context))
    sha256 = await anyio.to_thread.run_sync(documents.store, data)
    async with db.write_transaction():
        before = await NoticeBatch.select(NoticeBatch.document_sha256).where(
            NoticeBatch.id == batch_id).first()
        if before["document_sha256"] != sha256:
            await NoticeBatch.update({NoticeBatch.document_sha256: sha256,
                                      NoticeBatch.document_rendered_at: clock.now()}).where(
                NoticeBatch.id == batch_id)
            await audit.record(SYSTEM, "notice_batch.document_rendered", "notice_batch",
                               batch_id, after={"sha256": sha256, "bytes": len(data)})
    return sha256
