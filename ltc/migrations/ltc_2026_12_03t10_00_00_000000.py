"""Re-assessments raised from the impact of a ruleset change (issue 12): an application
records where it came from (the person, or a reviewer's 改判影响 list) and why."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "application origin"


def _params(**overrides):
    return {"null": False, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
            "secret": False, **overrides}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Application", tablename="application", column_name="origin",
        db_column_name="origin", column_class_name="Varchar", column_class=Varchar,
        params=_params(length=12, default="applicant"), schema=None)
    manager.add_column(
        table_class_name="Application", tablename="application", column_name="origin_reason",
        db_column_name="origin_reason", column_class_name="Text", column_class=Text,
        params=_params(default=""), schema=None)
    return manager
