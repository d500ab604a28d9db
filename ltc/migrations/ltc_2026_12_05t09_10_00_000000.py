"""National codes are unique. Existing organisations in the register: status from `active` (an inactive one was
suspended), category from `kind` (providers become township health centres, the Feicheng
home-care model; an admin corrects an institution on its edit page)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Serial
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-05T09:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique national code; organisation status and category from active and kind"


class Organisation(Table, tablename="organisation", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False,
                index_method=IndexMethod.btree, choices=None, db_column_name="id", secret=False)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def backfill():
        await Organisation.raw(
            "UPDATE organisation SET status = CASE WHEN active THEN 'normal' ELSE 'suspended' "
            "END, category = CASE kind WHEN 'assessment' THEN 'assessment' "
            "ELSE 'health_centre' END")
        # SQLite cannot add a UNIQUE column; a unique index does the same on both engines
        # (NULLs, organisations without a national code yet, never collide).
        await Organisation.raw("CREATE UNIQUE INDEX organisation_national_code_unique "
                               "ON organisation (national_code)")

    manager.add_raw(backfill)
    return manager
