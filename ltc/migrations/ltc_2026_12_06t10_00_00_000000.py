"""The staff register (实名制, issue 14 item 2): every nurse, care worker, assessor and
assessment expert by resident ID, with certificate, national staff code (医保人员编码),
employer and status, and their training records. The next migration moves the assessors'
qualifications from their accounts into it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Date,
    ForeignKey,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-06T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "staff register"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Organisation = _stub("Organisation", "organisation")
StaffMember = _stub("StaffMember", "staff_member")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("StaffMember", "staff_member"): [
        ("resident_id", Varchar, _params(length=18, unique=True, null=True)),
        ("name", Varchar, _params(length=50, default="")),
        ("name_initials", Varchar, _params(length=20, default="", index=True)),
        ("kind", Varchar, _params(length=12, default="")),
        ("certificate_no", Varchar, _params(length=50, default="")),
        ("certificate_until", Date, _params()),
        ("staff_code", Varchar, _params(length=14, unique=True, null=True)),
        ("organisation", ForeignKey, _fk(Organisation)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("user", ForeignKey, _fk(User, null=True, unique=True)),
        ("status", Varchar, _params(length=12, default="active")),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("version", Integer, _params(default=1)),
    ],
    ("StaffTraining", "staff_training"): [
        ("staff", ForeignKey, _fk(StaffMember, index=True)),
        ("trained_on", Date, _params()),
        ("course", Varchar, _params(length=100, default="")),
        ("hours", Integer, _params(default=0)),
        ("issuer", Varchar, _params(length=100, default="")),
        ("recorded_by", ForeignKey, _fk(User, null=True)),
        ("recorded_at", Timestamptz, _params(default=TimestamptzNow())),
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
