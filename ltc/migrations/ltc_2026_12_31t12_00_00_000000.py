"""Issue 17: the HTTP enrolment check — the day's definite answers of the bureau's system
(ltc.enrollment.remote) and the payout lines' marks for re-check (ltc.payouts.enrolment)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Date, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-31T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "enrolment answers cache and payout enrolment marks"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


PayoutBatch = _stub("PayoutBatch", "payout_batch")
Person = _stub("Person", "person")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("EnrollmentAnswer", "enrollment_answer"): [
        ("resident_id", Varchar, _params(length=18, default="")),
        ("on_day", Date, _params()),
        ("answered_on", Date, _params()),
        ("status", Varchar, _params(length=12, default="")),
        ("scheme", Varchar, _params(length=20, null=True)),
        ("insurance_number", Varchar, _params(length=40, null=True)),
        ("region_code", Varchar, _params(length=20, null=True)),
        ("reason", Text, _params(null=True)),
        ("answered_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("PayoutEnrolmentMark", "payout_enrolment_mark"): [
        ("batch", ForeignKey, _fk(PayoutBatch)),
        ("person", ForeignKey, _fk(Person)),
        ("status", Varchar, _params(length=12, default="pending")),
        ("reason", Text, _params(default="")),
        ("checked_at", Timestamptz, _params(null=True)),
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
