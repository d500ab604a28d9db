"""Return-visit sampling (issue 16 item 2): a region's monthly draw of accepted home visits
(seed, candidates, picks, for replay) and one row per drawn visit with the clerk's result."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-27T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "return-visit sampling"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Visit = _stub("Visit", "visit")
Person = _stub("Person", "person")
Organisation = _stub("Organisation", "organisation")
ReturnVisitDraw = _stub("ReturnVisitDraw", "return_visit_draw")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("ReturnVisitDraw", "return_visit_draw"): [
        ("key", Varchar, _params(length=230, default="", unique=True)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("month", Date, _params(index=True)),
        ("rate_basis_points", Integer, _params(default=0)),
        ("minimum", Integer, _params(default=0)),
        ("seed", Varchar, _params(length=64, default="")),
        ("algorithm", Varchar, _params(length=60, default="")),
        ("record", Text, _params(default="")),
        ("drawn_by", ForeignKey, _fk(User, null=True)),
        ("drawn_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("ReturnVisit", "return_visit"): [
        ("draw", ForeignKey, _fk(ReturnVisitDraw)),
        ("visit", ForeignKey, _fk(Visit, unique=True)),
        ("person", ForeignKey, _fk(Person)),
        ("provider", ForeignKey, _fk(Organisation, index=True)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("month", Date, _params(index=True)),
        ("state", Varchar, _params(length=12, default="", index=True)),
        ("outcome", Varchar, _params(length=12, default="")),
        ("satisfaction", Integer, _params(null=True)),
        ("note", Text, _params(default="")),
        ("called_by", ForeignKey, _fk(User, null=True)),
        ("recorded_at", Timestamptz, _params(null=True)),
        ("version", Integer, _params(default=1)),
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
    return manager
