"""Spot checks of concluded assessments (issue 12 item 7): a region's monthly draw (seed,
candidates, picks, for replay) and one row per drawn assessment with the expert's finding."""

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

ID = "2026-12-04T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "spot checks"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Application = _stub("Application", "application")
Assessment = _stub("Assessment", "assessment")
Organisation = _stub("Organisation", "organisation")
SpotCheckDraw = _stub("SpotCheckDraw", "spot_check_draw")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("SpotCheckDraw", "spot_check_draw"): [
        ("key", Varchar, _params(length=230, default="", unique=True)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("month", Date, _params(index=True)),
        ("rate_basis_points", Integer, _params(default=0)),
        ("seed", Varchar, _params(length=64, default="")),
        ("algorithm", Varchar, _params(length=60, default="")),
        ("record", Text, _params(default="")),
        ("drawn_by", ForeignKey, _fk(User, null=True)),
        ("drawn_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("SpotCheck", "spot_check"): [
        ("draw", ForeignKey, _fk(SpotCheckDraw)),
        ("assessment", ForeignKey, _fk(Assessment, unique=True)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("month", Date, _params(index=True)),
        ("organisation_1", ForeignKey, _fk(Organisation)),
        ("organisation_2", ForeignKey, _fk(Organisation)),
        ("state", Varchar, _params(length=12, default="", index=True)),
        ("finding", Varchar, _params(length=12, default="")),
        ("notes", Text, _params(default="")),
        ("expert", ForeignKey, _fk(User, null=True)),
        ("recorded_at", Timestamptz, _params(null=True)),
        ("application", ForeignKey, _fk(Application, null=True)),
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
