"""Rendered documents (notices, decision letters): content-addressed files under
LTC_MEDIA_DIR/documents, named by their SHA-256, written atomically. Rendering the same
document again gives the same bytes, hence the same name: storing it twice is a no-op."""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import anyio
from piccolo.columns import Column

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import NotFound
from ltc.identity import SYSTEM
from ltc.settings import Settings


def path_for(sha256: str, media_dir: Path | None = None, suffix: str = ".pdf") -> Path:
    media_dir = media_dir or Settings.from_env().media_dir
    return media_dir / "documents" / sha256[:2] / f"{sha256}{suffix}"


def store(data: bytes, media_dir: Path | None = None, suffix: str = ".pdf") -> str:
    """Write `data` under its SHA-256 (temp file, fsync, rename) and return the hash."""
    sha256 = hashlib.sha256(data).hexdigest()
    final = path_for(sha256, media_dir, suffix)
    if final.exists():
        return sha256
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=final.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o444)
        os.replace(temp, final)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return sha256


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
