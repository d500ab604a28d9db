"""A care item's national service-item code is unique among the items that have one ("" is
none and never collides): a partial unique index, the same on both engines."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-13T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique care item national code"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def index():
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX care_item_national_code_unique ON care_item (national_code) "
            "WHERE national_code <> ''")

    manager.add_raw(index)
    return manager
