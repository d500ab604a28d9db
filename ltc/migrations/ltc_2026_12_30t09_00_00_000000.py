"""Issue 16 item 5: the provider's declaration of its draft lines (申报, 22号) and its
disputes of single lines, settled by the clerk's first review (ltc.payouts)."""

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

ID = "2026-12-30T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout declarations and disputes"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Organisation = _stub("Organisation", "organisation")
Person = _stub("Person", "person")
PayoutBatch = _stub("PayoutBatch", "payout_batch")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("PayoutDeclaration", "payout_declaration"): [
        ("batch", ForeignKey, _fk(PayoutBatch, index=True)),
        ("payee_key", Varchar, _params(length=40, default="")),
        ("organisation", ForeignKey, _fk(Organisation)),
        ("lines_sha256", Varchar, _params(length=64, default="")),
        ("line_count", Integer, _params(default=0)),
        ("net_fen", BigInt, _params(default=0)),
        ("declared_by", ForeignKey, _fk(User)),
        ("declared_at", Timestamptz, _params(default=TimestamptzNow())),
        ("voided_at", Timestamptz, _params(null=True)),
        ("void_reason", Text, _params(default="")),
    ],
    ("PayoutDispute", "payout_dispute"): [
        ("batch", ForeignKey, _fk(PayoutBatch, index=True)),
        ("payee_key", Varchar, _params(length=40, default="")),
        ("organisation", ForeignKey, _fk(Organisation)),
        ("person", ForeignKey, _fk(Person)),
        ("benefit", Varchar, _params(length=16, default="")),
        ("service_month", Date, _params()),
        ("kind", Varchar, _params(length=14, default="")),
        ("net_fen", BigInt, _params(default=0)),
        ("reason", Text, _params(default="")),
        ("raised_by", ForeignKey, _fk(User)),
        ("raised_at", Timestamptz, _params(default=TimestamptzNow())),
        ("state", Varchar, _params(length=10, default="open")),
        ("outcome", Varchar, _params(length=10, default="")),
        ("answer", Text, _params(default="")),
        ("settled_by", ForeignKey, _fk(User, null=True)),
        ("settled_at", Timestamptz, _params(null=True)),
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
