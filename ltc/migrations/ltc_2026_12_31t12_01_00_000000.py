"""Issue 17: the unique indexes of the enrolment answers and payout marks (raw DDL runs
before the tables of its own migration are made, hence a migration of its own)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-31T12:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "enrolment answer and payout mark indexes"

INDEXES = (
    # One answer a day per person and day asked about: two processes store it once.
    "CREATE UNIQUE INDEX enrollment_answer_day ON enrollment_answer "
    "(resident_id, on_day, answered_on)",
    # One mark per beneficiary of a batch.
    "CREATE UNIQUE INDEX payout_enrolment_mark_once ON payout_enrolment_mark (batch, person)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        for statement in INDEXES:
            await engine_finder().run_ddl(statement)

    manager.add_raw(indexes)
    return manager
