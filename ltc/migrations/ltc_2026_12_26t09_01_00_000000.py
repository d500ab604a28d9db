"""A family rates its provider once a month (ltc.family.service.rate): two ratings sent at
once must not both be stored."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-26T09:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one family rating per person and month"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def index():
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX family_rating_person_month ON family_rating (person, month)")

    manager.add_raw(index)
    return manager
