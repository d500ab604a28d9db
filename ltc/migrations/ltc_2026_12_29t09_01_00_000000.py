"""A care provider has one exit in hand at most (ltc.sanctions): two clerks recording one
at once must not both succeed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-29T09:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open exit per provider"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def index():
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX provider_exit_one_open ON provider_exit (organisation)"
            " WHERE state = 'OPEN'")

    manager.add_raw(index)
    return manager
