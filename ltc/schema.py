"""Applying the migration history to the bound database."""

from __future__ import annotations

import os

os.environ.setdefault("PICCOLO_CONF", "ltc.piccolo_conf")


async def migrate() -> None:
    """Apply every migration not yet applied. Safe to run on every deploy."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="ltc", migration_id="all", fake=False)
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
