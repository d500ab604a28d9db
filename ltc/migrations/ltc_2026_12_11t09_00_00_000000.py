"""Search by the caregiver's pinyin initials on agreements (issue 15): a column beside the
name, filled for the agreements signed so far, and indexed.

Search by the last four characters of a resident ID within a town (issue 15): an index on
the expression the search compares (people.service.ID_TAIL), with the region path beside it
so a town's people with one tail are found without reading the town.

Both engines index expressions; on PostgreSQL the region path uses the pattern operator class
so its LIKE 'town/%' can use the index (see the 2026-11-22T08:30 search indexes)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.querystring import QueryString

ID = "2026-12-11T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search by caregiver initials and resident ID tail"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        pattern = " varchar_pattern_ops" if engine.engine_type == "postgres" else ""
        await engine.run_ddl("CREATE INDEX person_resident_id_tail ON person "
                             f"((substr(resident_id, 15, 4)), region_path{pattern})")
        await engine.run_ddl("ALTER TABLE agreement ADD COLUMN caregiver_initials "
                             "VARCHAR(20) NOT NULL DEFAULT ''")
        await engine.run_ddl("CREATE INDEX agreement_caregiver_initials ON agreement "
                             f"(caregiver_initials{pattern})")
        from ltc.people.rules import name_initials

        named = await engine.run_querystring(QueryString(
            "SELECT DISTINCT caregiver_name FROM agreement WHERE caregiver_name <> ''"))
        for row in named:
            name = row["caregiver_name"]
            await engine.run_querystring(QueryString(
                "UPDATE agreement SET caregiver_initials = {} WHERE caregiver_name = {}",
                name_initials(name), name))

    manager.add_raw(indexes)
    return manager
