"""An organisation's bank account (收款账户): where its payments go unless an agreement names
another. Empty until the register is filled in; a payment to an organisation without one is
unpaid, with that reason (ltc.payouts)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "organisation bank account"

COLUMNS = {"bank_name": 100, "bank_account_name": 200, "bank_account_no": 40}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    for name, length in COLUMNS.items():
        manager.add_column(
            table_class_name="Organisation", tablename="organisation", column_name=name,
            db_column_name=name, column_class_name="Varchar", column_class=Varchar,
            params={"length": length, "default": "", "null": False, "primary_key": False,
                    "unique": False, "index": False, "index_method": IndexMethod.btree,
                    "choices": None, "db_column_name": None, "secret": False},
            schema=None,
        )
    return manager
