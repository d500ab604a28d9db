"""Payouts: deleting a draft's lines checks the self-reference `adjusts` per row, which
needs an index; a visit is treated once per batch."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T13:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout line and visit indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for ddl in (
            "CREATE INDEX payout_line_adjusts ON payout_line (adjusts)",
            "CREATE INDEX payout_line_carried_payment ON payout_line (carried_payment)",
            "CREATE UNIQUE INDEX payout_visit_batch_visit ON payout_visit (batch, visit)",
        ):
            await engine.run_ddl(ddl)

    manager.add_raw(indexes)
    return manager
