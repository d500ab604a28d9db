"""Issue 18 (city scale): a computed batch's page figures, stored when it is computed so the
batch page and the approval checks read a few rows instead of every line (ltc.payouts.figures)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    BigInt,
    ForeignKey,
    Integer,
    Serial,
    Varchar,
)
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-31T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout batch figures"

PayoutBatch = type("PayoutBatch", (Table,), {"id": Serial(
    null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
    choices=None, db_column_name="id", secret=False)}, tablename="payout_batch", schema=None)


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(**overrides):
    return _params(references=PayoutBatch, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("PayoutBatchFigures", "payout_batch_figures"): [
        ("batch", ForeignKey, _fk(unique=True)),
        ("previous_batch", ForeignKey, _fk(null=True)),
    ],
    ("PayoutBatchTotal", "payout_batch_total"): [
        ("batch", ForeignKey, _fk(index=True)),
        ("town", Varchar, _params(length=20, default="")),
        ("benefit", Varchar, _params(length=16, default="")),
        ("line_count", Integer, _params(default=0)),
        ("excluded_lines", Integer, _params(default=0)),
        ("gross_fen", BigInt, _params(default=0)),
        ("withheld_fen", BigInt, _params(default=0)),
        ("net_fen", BigInt, _params(default=0)),
    ],
    ("PayoutBatchAnomaly", "payout_batch_anomaly"): [
        ("batch", ForeignKey, _fk(index=True)),
        ("payee_key", Varchar, _params(length=40, default="")),
        ("payee_name", Varchar, _params(length=100, default="")),
        ("previous_fen", BigInt, _params(null=True)),
        ("current_fen", BigInt, _params(default=0)),
        ("why", Varchar, _params(length=8, default="")),
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
