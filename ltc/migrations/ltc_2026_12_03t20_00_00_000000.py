"""Sessions name their user, so that disabling a user or changing their role or region ends
every session of theirs at once (sign-out everywhere). Older sessions carry no user and
expire as before."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "web_session user"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_column(
        table_class_name="WebSession", tablename="web_session", column_name="user_id",
        db_column_name="user_id", column_class_name="Integer", column_class=Integer,
        params={"default": None, "null": True, "primary_key": False, "unique": False,
                "index": True, "index_method": IndexMethod.btree, "choices": None,
                "db_column_name": None, "secret": False},
        schema=None,
    )
    return manager
