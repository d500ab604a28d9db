"""Composite unique indexes for notices, decisions, entitlements and enrolment events, and
immutable policy versions (both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T10:06:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notice and entitlement indexes, immutable policy versions"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes_and_immutable_policy():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for ddl in (
            "CREATE UNIQUE INDEX policy_version_region_version"
            " ON policy_version (region, version)",
            "CREATE UNIQUE INDEX policy_version_region_effective"
            " ON policy_version (region, effective_from)",
            "CREATE UNIQUE INDEX enrollment_event_client_event"
            " ON enrollment_event (client, event_id)",
            "CREATE INDEX notice_entry_batch ON notice_entry (batch, id)",
            "CREATE INDEX notice_batch_state_ends ON notice_batch (state, ends_on)",
            "CREATE INDEX objection_entry ON objection (entry, id)",
            "CREATE INDEX entitlement_change_entitlement ON entitlement_change (entitlement, id)",
            "CREATE INDEX suspension_entitlement ON suspension (entitlement, starts_on)",
            "CREATE INDEX assessment_state_concluded ON assessment (state, concluded_at)",
        ):
            await engine.run_ddl(ddl)
        if engine.engine_type == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                await engine.run_ddl(
                    f"CREATE TRIGGER policy_version_no_{operation.lower()} BEFORE {operation} "
                    "ON policy_version BEGIN "
                    "SELECT RAISE(ABORT, 'policy versions are immutable'); END"
                )
        else:
            await engine.run_ddl(
                "CREATE FUNCTION policy_version_immutable() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'policy versions are immutable'; END $$"
            )
            await engine.run_ddl(
                "CREATE TRIGGER policy_version_immutable BEFORE UPDATE OR DELETE "
                "ON policy_version FOR EACH ROW EXECUTE FUNCTION policy_version_immutable()"
            )

    manager.add_raw(indexes_and_immutable_policy)
    return manager
