"""Issue 18: one budget per pooling region and year, one monthly report per region and month,
and the figures read by region and month (raw DDL runs before the tables of its own migration
are made, hence a migration of its own)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-31T16:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dashboard indexes"

INDEXES = (
    "CREATE UNIQUE INDEX budget_region_year ON budget (region, year)",
    "CREATE UNIQUE INDEX monthly_report_region_month ON monthly_report (pooling_code, month)",
    "CREATE INDEX dashboard_figure_read ON dashboard_figure (pooling_code, figure, month)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        for statement in INDEXES:
            await engine_finder().run_ddl(statement)

    manager.add_raw(indexes)
    return manager
