"""A beneficiary's care-plan letters are numbered 1, 2, … (ltc.careplans.letters): two
letters requested at once must not both take the same number."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-25T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one care-plan letter per person and issue number"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def index():
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX care_plan_letter_person_issue_no"
            " ON care_plan_letter (person, issue_no)")

    manager.add_raw(index)
    return manager
