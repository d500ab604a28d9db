"""Issue 18 (city scale): the batch line search answered from indexes (ltc.payouts.queries
`_line_search`): a payee's name from its start within a batch, and a beneficiary's lines
within a batch. On PostgreSQL a LIKE 'prefix%' uses a btree only with the pattern operator
class (the database collation is not C); SQLite takes the plain column."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-31T18:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout line search indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        pattern = " varchar_pattern_ops" if engine.engine_type == "postgres" else ""
        await engine.run_ddl("CREATE INDEX payout_line_batch_payee_name ON payout_line "
                             f"(batch, payee_name{pattern})")
        await engine.run_ddl("CREATE INDEX payout_line_batch_person ON payout_line "
                             "(batch, person)")

    manager.add_raw(indexes)
    return manager
