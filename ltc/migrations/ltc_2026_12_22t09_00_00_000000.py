"""Issue 15 items 6 and 7: the care-plan letter (护理计划告知书) with the household's
confirmation PIN, stored hashed, and the PINs typed to confirm visits (for the daily limit
of wrong ones)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Boolean,
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

ID = "2026-12-22T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "care plan letters and household PIN attempts"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Organisation = _stub("Organisation", "organisation")
Person = _stub("Person", "person")
CarePlan = _stub("CarePlan", "care_plan")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("CarePlanLetter", "care_plan_letter"): [
        ("person", ForeignKey, _fk(Person, index=True)),
        ("care_plan", ForeignKey, _fk(CarePlan, index=True)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("issue_no", Integer, _params(default=0)),
        ("reason", Text, _params(default="")),
        ("requested_by", ForeignKey, _fk(User)),
        ("pin_hash", Varchar, _params(length=200, default="")),
        ("letter_sha256", Varchar, _params(length=64, null=True)),
        ("issued_at", Timestamptz, _params(null=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("PinAttempt", "pin_attempt"): [
        ("person", ForeignKey, _fk(Person)),
        ("provider", ForeignKey, _fk(Organisation)),
        ("staff", ForeignKey, _fk(User, null=True)),
        ("day", Date, _params()),
        ("correct", Boolean, _params(default=False)),
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
    return manager
