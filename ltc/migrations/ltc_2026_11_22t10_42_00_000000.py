"""Composite indexes for agreements, care plans, visits and stays (both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T10:42:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "care delivery indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for ddl in (
            "CREATE UNIQUE INDEX care_plan_entitlement_plan_no ON care_plan (entitlement, plan_no)",
            "CREATE INDEX agreement_kind_organisation ON agreement (kind, organisation, starts_on)",
            "CREATE INDEX agreement_kind_staff ON agreement (kind, staff, starts_on)",
            "CREATE INDEX agreement_kind_beneficiary ON agreement (kind, beneficiary, starts_on)",
            "CREATE INDEX visit_staff_started ON visit (staff, started_at)",
            "CREATE INDEX visit_person_day ON visit (person, visit_on)",
            "CREATE INDEX visit_provider_day ON visit (provider, visit_on)",
            "CREATE INDEX visit_review_created ON visit (review, created_at)",
            "CREATE INDEX institutional_stay_person_admitted ON institutional_stay (person, admitted_on)",
            "CREATE INDEX survey_provider_day ON survey (provider, surveyed_on)",
        ):
            await engine.run_ddl(ddl)

    manager.add_raw(indexes)
    return manager
