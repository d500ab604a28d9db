"""When an application was accepted (issue 12, 22号 deadlines): `decided_at` is overwritten
by the decision, so the acceptance that starts the conclusion letter's deadline gets its own
column. Applications accepted before this migration keep it empty (their deadline is not
shown)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "application accepted_at"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Application", tablename="application", column_name="accepted_at",
        db_column_name="accepted_at", column_class_name="Timestamptz", column_class=Timestamptz,
        params={"default": None, "null": True, "primary_key": False, "unique": False,
                "index": False, "index_method": IndexMethod.btree, "choices": None,
                "db_column_name": None, "secret": False}, schema=None)
    return manager
