"""Issue 18: the policy sandbox's runs, scratch lines, regraded grades and the people whose
month differs (ltc.payouts.sandbox)."""

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

ID = "2026-12-31T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "policy sandbox runs and scratch lines"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
PolicyVersion = _stub("PolicyVersion", "policy_version")
PayoutBatch = _stub("PayoutBatch", "payout_batch")
Person = _stub("Person", "person")
SandboxRun = _stub("SandboxRun", "sandbox_run")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


_LINE = [
    ("batch", Integer, _params(default=0)),
    ("kind", Varchar, _params(length=14, default="")),
    ("benefit", Varchar, _params(length=16, default="")),
    ("service_month", Date, _params(default=None)),
    ("payee_key", Varchar, _params(length=40, default="")),
    ("payee_name", Varchar, _params(length=100, default="")),
    ("organisation", Integer, _params(null=True)),
    ("agreement", Integer, _params(null=True)),
    ("person", Integer, _params(default=0)),
    ("entitlement", Integer, _params(null=True)),
    ("region_path", Varchar, _params(length=200, default="")),
    *[(name, Integer, _params(default=0)) for name in (
        "grade", "days", "days_in_month", "visits_counted", "visits_excluded")],
    ("visit_treatments", Text, _params(default="")),
    *[(name, BigInt, _params(default=0)) for name in (
        "rate_fen", "gross_fen", "withheld_fen", "net_fen", "previous_gross_fen")],
    ("previous_days", Integer, _params(default=0)),
    ("previous_visits", Integer, _params(default=0)),
    ("adjusts", Integer, _params(null=True)),
    ("carried_payment", Integer, _params(null=True)),
    ("policy_version", Integer, _params(default=0)),
]

COLUMNS = {
    ("SandboxRun", "sandbox_run"): [
        ("region_path", Varchar, _params(length=200, default="", index=True)),
        ("month", Date, _params(default=None)),
        ("policy_version", ForeignKey, _fk(PolicyVersion)),
        ("ruleset", Varchar, _params(length=60, default="")),
        ("batch", ForeignKey, _fk(PayoutBatch, null=True)),
        ("state", Varchar, _params(length=10, default="queued")),
        ("error", Text, _params(default="")),
        *[(name, Integer, _params(default=0)) for name in ("regraded", "line_count")],
        *[(name, BigInt, _params(default=0)) for name in (
            "gross_fen", "net_fen", "real_gross_fen", "real_net_fen")],
        ("people_changed", Integer, _params(default=0)),
        ("summary", Text, _params(default="[]")),
        ("seconds", Integer, _params(null=True)),
        ("started_by", ForeignKey, _fk(User)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("finished_at", Timestamptz, _params(null=True)),
    ],
    ("SandboxLine", "sandbox_line"): _LINE,
    ("SandboxGrade", "sandbox_grade"): [
        ("run", Integer, _params(default=0)),
        ("person", Integer, _params(default=0)),
        ("grade", Integer, _params(default=0)),
    ],
    ("SandboxPerson", "sandbox_person"): [
        ("run", ForeignKey, _fk(SandboxRun, index=True)),
        ("person", ForeignKey, _fk(Person)),
        ("region_path", Varchar, _params(length=200, default="")),
        ("change", Varchar, _params(length=10, default="")),
        *[(name, Integer, _params(default=0)) for name in ("real_grade", "new_grade")],
        *[(name, BigInt, _params(default=0)) for name in ("real_gross_fen", "new_gross_fen")],
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
