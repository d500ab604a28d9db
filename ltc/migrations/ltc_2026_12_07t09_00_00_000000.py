"""Payee accounts and agreement amendments (issue 14).

An agreement carries its payee's account holder (户名) beside the bank and account number it
already had, and where the account came from: typed for the agreement (`entered`) or taken
from the organisation register and confirmed by the clerk (`register`, copied, so a later
change in the register does not redirect money by itself). An amendment (补充协议) is a new
row of the same chain: `root` names the original agreement, `amendment_no` counts 1, 2, …
A payment remembers the account holder it was sent to (`bank_account_name`)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payee accounts and agreement amendments"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def columns():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for ddl in (
            "ALTER TABLE agreement ADD COLUMN bank_account_name VARCHAR(200) NOT NULL "
            "DEFAULT ''",
            "ALTER TABLE agreement ADD COLUMN account_source VARCHAR(12) NOT NULL DEFAULT ''",
            "ALTER TABLE agreement ADD COLUMN root INTEGER NULL "
            "REFERENCES agreement (id) ON DELETE RESTRICT",
            "ALTER TABLE agreement ADD COLUMN amendment_no INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE agreement ADD COLUMN amendment_reason TEXT NOT NULL DEFAULT ''",
            "CREATE UNIQUE INDEX agreement_root_amendment ON agreement (root, amendment_no)",
            "ALTER TABLE payment ADD COLUMN bank_account_name VARCHAR(200) NOT NULL "
            "DEFAULT ''",
        ):
            await engine.run_ddl(ddl)

    manager.add_raw(columns)
    return manager
