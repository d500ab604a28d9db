"""The assessment team (issue 12, 29号): assessor accounts carry a qualification (评估员 or
评估专家, certificate number, last valid day); experts who were not on site confirm a
conclusion (专家确认); assessors declare conflicts with a person (回避), so later draws leave
them out. Existing accounts get no qualification (an admin records it)."""

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

ID = "2026-12-04T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "assessor qualification, expert confirmation, assessor conflict"


def _id() -> Serial:
    return Serial(null=False, primary_key=True, unique=False, index=False,
                  index_method=IndexMethod.btree, choices=None, db_column_name="id",
                  secret=False)


class User(Table, tablename="ltc_user", schema=None):
    id = _id()


class Assessment(Table, tablename="assessment", schema=None):
    id = _id()


def _params(**overrides):
    return {"null": False, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
            "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("User", "ltc_user"): [
        ("qualification", Varchar, _params(length=12, default="")),
        ("certificate_no", Varchar, _params(length=50, default="")),
        ("qualified_until", Date, _params(default=None, null=True)),
    ],
    ("ExpertConfirmation", "expert_confirmation"): [
        ("assessment", ForeignKey, _fk(Assessment, index=True)),
        ("expert", ForeignKey, _fk(User)),
        ("note", Text, _params(default="")),
        ("confirmed_at", Timestamptz, _params(default=TimestamptzNow())),
        ("voided_at", Timestamptz, _params(default=None, null=True)),
    ],
    ("AssessorConflict", "assessor_conflict"): [
        ("assessor", ForeignKey, _fk(User)),
        ("person", Integer, _params(default=0, index=True)),
        ("reason", Text, _params(default="")),
        ("assessment", ForeignKey, _fk(Assessment, null=True)),
        ("declared_by", ForeignKey, _fk(User)),
        ("declared_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    for class_name, tablename in COLUMNS:
        if class_name != "User":
            manager.add_table(class_name=class_name, tablename=tablename, schema=None,
                              columns=None)
    for (class_name, tablename), columns in COLUMNS.items():
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=column_class.__name__,
                column_class=column_class, params=params, schema=None)
    return manager
