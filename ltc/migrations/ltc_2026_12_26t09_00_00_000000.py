"""Issue 16 item 1, the family portal (家属端): the family's sign-in attempts, their answer
on each visit (once) and their monthly satisfaction ratings."""

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

ID = "2026-12-26T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "family sign-ins, answers on visits and satisfaction ratings"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


Organisation = _stub("Organisation", "organisation")
Person = _stub("Person", "person")
CarePlanLetter = _stub("CarePlanLetter", "care_plan_letter")
Visit = _stub("Visit", "visit")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("FamilySignIn", "family_sign_in"): [
        ("person", ForeignKey, _fk(Person, index=True)),
        ("letter", ForeignKey, _fk(CarePlanLetter)),
        ("day", Date, _params()),
        ("correct", Boolean, _params(default=False)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("FamilyAnswer", "family_answer"): [
        ("visit", ForeignKey, _fk(Visit, unique=True)),
        ("person", ForeignKey, _fk(Person, index=True)),
        ("letter", ForeignKey, _fk(CarePlanLetter)),
        ("answer", Varchar, _params(length=10, default="")),
        ("words", Text, _params(default="")),
        ("answered_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("FamilyRating", "family_rating"): [
        ("person", ForeignKey, _fk(Person, index=True)),
        ("provider", ForeignKey, _fk(Organisation)),
        ("letter", ForeignKey, _fk(CarePlanLetter)),
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("month", Date, _params()),
        ("rated_on", Date, _params()),
        ("score", Integer, _params(default=0)),
        ("comment", Text, _params(default="")),
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
