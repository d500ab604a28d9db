"""Ruleset versions activated by an admin from a date (issue 12): a later version of a ruleset
loads PENDING and is in force only once activated; who activated it and when. Existing rows
(the first versions) stay ACTIVE."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-03T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ruleset activation"


class User(Table, tablename="ltc_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False,
                index_method=IndexMethod.btree, choices=None, db_column_name="id", secret=False)


def _params(**overrides):
    return {"null": True, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
            "secret": False, **overrides}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Ruleset", tablename="ruleset", column_name="state",
        db_column_name="state", column_class_name="Varchar", column_class=Varchar,
        params=_params(length=12, default="ACTIVE", null=False), schema=None)
    manager.add_column(
        table_class_name="Ruleset", tablename="ruleset", column_name="activated_by",
        db_column_name="activated_by", column_class_name="ForeignKey", column_class=ForeignKey,
        params=_params(references=User, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade,
                       target_column=None), schema=None)
    manager.add_column(
        table_class_name="Ruleset", tablename="ruleset", column_name="activated_at",
        db_column_name="activated_at", column_class_name="Timestamptz", column_class=Timestamptz,
        params=_params(default=None), schema=None)
    return manager
