"""Issue 17 item 3: API token scopes. Tokens issued before keep exactly what they could
call: the column's default, given to every existing row, is LEGACY_SCOPES."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-31T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "api token scopes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_column(
        table_class_name="ApiToken", tablename="api_token", column_name="scopes",
        db_column_name="scopes", column_class_name="Varchar", column_class=Varchar,
        params={"length": 200, "default": "enrolment.events role.api", "null": False,
                "primary_key": False, "unique": False, "index": False,
                "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
                "secret": False},
        schema=None)
    return manager
