"""Issue 16 item 3: 稽核 findings — patterns across a month's visits found by the nightly
run (ltc.inspections), and the reviewer's decision on each."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-28T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inspection findings across visits; visits by staff member and day"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Organisation = _stub("Organisation", "organisation")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("InspectionFinding", "inspection_finding"): [
        ("key", Varchar, _params(length=300, default="", unique=True)),
        ("rule", Varchar, _params(length=30, default="", index=True)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("month", Date, _params(index=True)),
        ("provider", ForeignKey, _fk(Organisation, index=True)),
        ("staff", ForeignKey, _fk(User, null=True, index=True)),
        ("visit_ids", Text, _params(default="[]")),
        ("visit_count", Integer, _params(default=0)),
        ("details", Text, _params(default="")),
        ("state", Varchar, _params(length=12, default="", index=True)),
        ("reason", Text, _params(default="")),
        ("decided_by", ForeignKey, _fk(User, null=True)),
        ("decided_at", Timestamptz, _params(null=True)),
        ("found_on", Date, _params()),
        ("seen_on", Date, _params()),
        ("version", Integer, _params(default=1)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    for (class_name, tablename), columns in COLUMNS.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None,
                          columns=None)
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=column_class.__name__,
                column_class=column_class, params=params, schema=None)

    async def index():
        from piccolo.engine import engine_finder

        # The nightly run reads a month's visits a few hundred staff members at a time.
        await engine_finder().run_ddl(
            "CREATE INDEX visit_staff_visit_on ON visit (staff, visit_on)")

    manager.add_raw(index)
    return manager
