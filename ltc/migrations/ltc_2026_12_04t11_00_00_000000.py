"""The guardian or agent present at an on-site assessment: name, relationship, phone (blank
for the assessments recorded before; submission requires them from now on)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "assessment guardian"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    for column, length in (("guardian_name", 50), ("guardian_relationship", 10),
                           ("guardian_phone", 30)):
        manager.add_column(
            table_class_name="Assessment", tablename="assessment", column_name=column,
            db_column_name=column, column_class_name="Varchar", column_class=Varchar,
            params={"length": length, "default": "", "null": False, "primary_key": False,
                    "unique": False, "index": False, "index_method": IndexMethod.btree,
                    "choices": None, "db_column_name": None, "secret": False},
            schema=None,
        )
    return manager
