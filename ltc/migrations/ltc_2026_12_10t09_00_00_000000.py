"""Letters for every answer (issue 15 item 3): an application may wait for missing materials
(待补正) — what was asked for, the note, when, by when and when they came — and carries the
hashes of its two letters, the 补正材料通知书 and the 不予受理告知书. Existing applications get
empty values: none was ever waiting, and no refusal letter was rendered before."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date, Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-10T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "application materials requests and letters"

COLUMNS = (
    ("materials_requested", Text, {"default": "[]", "null": False}),
    ("materials_note", Text, {"default": "", "null": False}),
    ("materials_requested_at", Timestamptz, {"default": None, "null": True}),
    ("materials_due_on", Date, {"default": None, "null": True}),
    ("materials_received_at", Timestamptz, {"default": None, "null": True}),
    ("materials_notice_sha256", Varchar, {"default": None, "null": True, "length": 64}),
    ("refusal_letter_sha256", Varchar, {"default": None, "null": True, "length": 64}),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="Application", tablename="application", column_name=name,
            db_column_name=name, column_class_name=column_class.__name__,
            column_class=column_class,
            params={"primary_key": False, "unique": False, "index": False,
                    "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
                    "secret": False, **params}, schema=None)
    return manager
