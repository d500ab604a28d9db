"""Issue 18: the policy sandbox's lookup indexes (raw DDL runs before the tables of its own
migration are made, hence a migration of its own)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-31T17:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "policy sandbox indexes"

INDEXES = (
    # The replay's grade override is looked up per entitlement.
    "CREATE UNIQUE INDEX sandbox_grade_run_person ON sandbox_grade (run, person)",
    # The difference is read per run and person.
    "CREATE INDEX sandbox_line_run_person ON sandbox_line (batch, person)",
    "CREATE INDEX sandbox_person_run_change ON sandbox_person (run, change)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        for statement in INDEXES:
            await engine_finder().run_ddl(statement)

    manager.add_raw(indexes)
    return manager
