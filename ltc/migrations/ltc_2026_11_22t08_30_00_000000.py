"""Indexes for the clerk's search: prefix matches on person columns, and application → person.

On PostgreSQL a LIKE 'prefix%' can only use a btree built with the pattern operator class
(the database collation is not C); SQLite's LIKE is case-insensitive and uses none of these,
which is acceptable at embedded sizes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl("CREATE INDEX application_person ON application (person, id)")
        if engine.engine_type == "postgres":
            for column in ("name", "name_initials", "resident_id", "phone"):
                await engine.run_ddl(
                    f"CREATE INDEX person_{column}_prefix ON person"
                    f" ({column} varchar_pattern_ops)")

    manager.add_raw(indexes)
    return manager
