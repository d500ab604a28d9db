"""Issue 18 (city scale): a batch's lines in id order from an index of their own. The line
table pages by id within a batch; with only the primary key, a search matching many lines (a
surname, a word of providers' names) read every earlier batch's lines before reaching this
one's (1.47 M rows skipped at 1,000,000 beneficiaries: 0.9 s), and now reads only its own."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2027-01-01T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout lines of a batch in id order"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def index():
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl("CREATE INDEX payout_line_batch_id ON payout_line "
                                      "(batch, id)")

    manager.add_raw(index)
    return manager
