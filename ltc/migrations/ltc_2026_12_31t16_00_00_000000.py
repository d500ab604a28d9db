"""Issue 18: the dashboard's summary figures, their refresh marks, the budgets and the monthly
reports (ltc.dashboard)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    BigInt,
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

ID = "2026-12-31T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dashboard figures, budgets and monthly reports"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Region = _stub("Region", "region")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("DashboardFigure", "dashboard_figure"): [
        ("pooling_code", Varchar, _params(length=20, default="", index=True)),
        ("town_code", Varchar, _params(length=20, default="")),
        ("month", Date, _params()),
        ("figure", Varchar, _params(length=20, default="")),
        ("key", Varchar, _params(length=40, default="")),
        ("label", Varchar, _params(length=200, default="")),
        ("n", BigInt, _params(default=0)),
        ("value", BigInt, _params(null=True)),
        ("value2", BigInt, _params(null=True)),
        ("detail", Text, _params(default="")),
    ],
    ("DashboardRefresh", "dashboard_refresh"): [
        ("pooling_code", Varchar, _params(length=20, default="", unique=True)),
        ("refreshed_at", Timestamptz, _params(default=TimestamptzNow())),
        ("seconds", Integer, _params(default=0)),
        ("version", Integer, _params(default=1)),
    ],
    ("Budget", "budget"): [
        ("region", ForeignKey, _fk(Region)),
        ("year", Integer, _params(default=0)),
        ("amount_fen", BigInt, _params(default=0)),
        ("set_by", ForeignKey, _fk(User, null=True)),
        ("set_at", Timestamptz, _params(default=TimestamptzNow())),
        ("version", Integer, _params(default=1)),
    ],
    ("MonthlyReport", "monthly_report"): [
        ("pooling_code", Varchar, _params(length=20, default="")),
        ("month", Date, _params()),
        ("sha256", Varchar, _params(length=64, default="")),
        ("rendered_at", Timestamptz, _params(default=TimestamptzNow())),
        ("rendered_by", ForeignKey, _fk(User, null=True)),
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
