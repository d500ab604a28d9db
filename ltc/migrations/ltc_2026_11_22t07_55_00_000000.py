"""Composite unique and lookup indexes for intake and assessment (both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T07:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "intake and assessment indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for ddl in (
            "CREATE UNIQUE INDEX evidence_file_assessment_sha256"
            " ON evidence_file (assessment, sha256)",
            "CREATE UNIQUE INDEX ruleset_code_version ON ruleset (code, version)",
            "CREATE INDEX application_state_created ON application (state, created_at, id)",
            "CREATE INDEX assessment_assessor_1_state ON assessment (assessor_1, state)",
            "CREATE INDEX assessment_assessor_2_state ON assessment (assessor_2, state)",
            "CREATE INDEX assessment_application ON assessment (application, id)",
        ):
            await engine.run_ddl(ddl)

    manager.add_raw(indexes)
    return manager
