"""Audit events say how their hash was made: 1 (the events so far) an unkeyed SHA-256, 2
(every new event) an HMAC under the audit key kept outside the database (ltc.audit.rules).
Adding a column with a default rewrites no row, so the append-only triggers stay quiet."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import SmallInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_event hash_scheme"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_column(
        table_class_name="AuditEvent", tablename="audit_event", column_name="hash_scheme",
        db_column_name="hash_scheme", column_class_name="SmallInt", column_class=SmallInt,
        params={"default": 1, "null": False, "primary_key": False, "unique": False,
                "index": False, "index_method": IndexMethod.btree, "choices": None,
                "db_column_name": None, "secret": False},
        schema=None,
    )
    return manager
