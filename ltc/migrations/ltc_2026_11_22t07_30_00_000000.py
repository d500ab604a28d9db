"""Composite unique/lookup indexes and the append-only audit triggers.

Separate from the initial migration because Piccolo runs a migration's raw steps before its
table creation.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes and append-only audit"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes_and_append_only_audit():
        # Composite indexes and triggers are not expressible as Piccolo columns; this SQL runs
        # unchanged on SQLite and PostgreSQL except for the trigger bodies.
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for ddl in (
            'CREATE UNIQUE INDEX scheduled_run_job_period ON scheduled_run (job, period_key)',
            'CREATE INDEX audit_event_object ON audit_event (object_type, object_id, seq)',
            'CREATE INDEX outbox_message_pending ON outbox_message (sent_at, id)',
        ):
            await engine.run_ddl(ddl)
        if engine.engine_type == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                await engine.run_ddl(
                    f"CREATE TRIGGER audit_event_no_{operation.lower()} BEFORE {operation} "
                    "ON audit_event BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
                )
        else:
            await engine.run_ddl(
                "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$"
            )
            await engine.run_ddl(
                "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                "ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
            )

    manager.add_raw(indexes_and_append_only_audit)
    return manager
