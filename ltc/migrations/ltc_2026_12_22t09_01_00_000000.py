"""The daily count of a beneficiary's wrong household PINs (ltc.visits.confirmation) reads
pin_attempt by person and day."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-22T09:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pin attempts by person and day"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def index():
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "CREATE INDEX pin_attempt_person_day ON pin_attempt (person, day)")

    manager.add_raw(index)
    return manager
