"""A generated document recorded on the row it belongs to, with an audit event: the one way
notices, decision letters and agreement documents are rendered by the workers."""

from __future__ import annotations

import functools
from typing import Any

import anyio
from piccolo.columns import Column

from ltc import clock, db
from ltc.audit import service as audit
from ltc.documents import store
from ltc.errors import NotFound
from ltc.identity import SYSTEM


async def render_and_record(template: str, context: dict[str, Any], sha256_column: Column,
                            row_id: int, *, action: str, object_type: str,
                            rendered_at: Column | None = None) -> str:
    """Render `template` to PDF in a worker thread (CPU-bound), store it, and record its
    hash in `sha256_column` of row `row_id` — only when it changed, with an audit event — so
    a job delivered twice changes nothing. Returns the hash."""
    from ltc import pdf  # WeasyPrint loads only in processes that render, not in the web app

    data = await anyio.to_thread.run_sync(functools.partial(pdf.render, template, context))
    sha256 = await anyio.to_thread.run_sync(store, data)
    table = sha256_column._meta.table
    primary_key = table._meta.primary_key
    async with db.write_transaction():
        before = await table.select(sha256_column).where(primary_key == row_id).first()
        if before is None:
            raise NotFound(f"{object_type}_not_found", f"{object_type} {row_id} 不存在")
        if before[sha256_column._meta.name] != sha256:
            values: dict[Column, Any] = {sha256_column: sha256}
            if rendered_at is not None:
                values[rendered_at] = clock.now()
            await table.update(values).where(primary_key == row_id)
            await audit.record(SYSTEM, action, object_type, row_id,
                               after={"sha256": sha256, "bytes": len(data)})
    return sha256
