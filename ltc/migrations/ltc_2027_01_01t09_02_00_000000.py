"""Issue 18: the provider payees of every batch whose figures were stored before the table
for them existed (ltc_2027_01_01t09_01): without them its declarations would list nobody.
A separate migration because Piccolo runs a migration's raw steps before its new tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2027-01-01T09:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout batch provider totals for earlier batches"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def backfill():
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "INSERT INTO payout_batch_provider (batch, payee_key, payee_name, line_count, "
            "net_fen) SELECT batch, payee_key, MAX(payee_name), COUNT(*), SUM(net_fen) "
            "FROM payout_line WHERE organisation IS NOT NULL AND batch IN "
            "(SELECT batch FROM payout_batch_figures) GROUP BY batch, payee_key")

    manager.add_raw(backfill)
    return manager
