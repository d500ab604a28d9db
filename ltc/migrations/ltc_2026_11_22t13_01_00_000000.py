"""Payouts: one batch per region and month, one line per payee, beneficiary, benefit, service
month and kind, unique payment references per batch and payee, the four-eyes rule on
approval, and lines that never change once their batch leaves DRAFT (both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T13:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout constraints"

FROZEN = "payout lines change only while their batch is a draft"
FOUR_EYES = "the approver of a payout batch must not be its submitter"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def constraints():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for ddl in (
            "CREATE UNIQUE INDEX payout_batch_region_month ON payout_batch (region_path, month)",
            "CREATE UNIQUE INDEX payout_line_payee_benefit ON payout_line "
            "(batch, payee_key, person, benefit, service_month, kind)",
            "CREATE INDEX payout_line_batch_benefit ON payout_line (batch, benefit, id)",
            "CREATE INDEX payout_line_month_person ON payout_line (service_month, person)",
            "CREATE INDEX payout_visit_batch_person ON payout_visit (batch, person, provider)",
            "CREATE UNIQUE INDEX payment_batch_payee ON payment (batch, payee_key)",
            "CREATE INDEX payment_carried_into ON payment (carried_into)",
            "CREATE INDEX payout_document_batch ON payout_document (batch, kind, payee_key)",
            "CREATE INDEX audit_event_object_at ON audit_event (object_type, at)",
            "CREATE INDEX entitlement_change_at ON entitlement_change (at)",
            "CREATE INDEX suspension_created ON suspension (created_at)",
            "CREATE INDEX visit_reviewed ON visit (reviewed_at)",
        ):
            await engine.run_ddl(ddl)
        if engine.engine_type == "sqlite":
            await engine.run_ddl(
                "CREATE TRIGGER payout_line_no_update BEFORE UPDATE ON payout_line "
                f"BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END")
            for operation, row in (("INSERT", "NEW"), ("DELETE", "OLD")):
                await engine.run_ddl(
                    f"CREATE TRIGGER payout_line_frozen_{operation.lower()} BEFORE {operation} "
                    f"ON payout_line WHEN (SELECT state FROM payout_batch "
                    f"WHERE id = {row}.batch) <> 'DRAFT' "
                    f"BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END")
            for operation in ("INSERT", "UPDATE"):
                await engine.run_ddl(
                    f"CREATE TRIGGER payout_batch_four_eyes_{operation.lower()} BEFORE "
                    f"{operation} ON payout_batch WHEN NEW.approved_by IS NOT NULL "
                    "AND NEW.approved_by = NEW.submitted_by "
                    f"BEGIN SELECT RAISE(ABORT, '{FOUR_EYES}'); END")
        else:
            await engine.run_ddl(
                "ALTER TABLE payout_batch ADD CONSTRAINT payout_batch_four_eyes "
                "CHECK (approved_by IS NULL OR approved_by <> submitted_by)")
            # Statement-level with transition tables: one check per statement, not per row,
            # so recomputing a million-line draft does not pay a trigger call per line.
            await engine.run_ddl(
                "CREATE FUNCTION payout_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM changed c "
                "JOIN payout_batch b ON b.id = c.batch WHERE b.state <> 'DRAFT') "
                f"THEN RAISE EXCEPTION '{FROZEN}'; END IF; RETURN NULL; END $$")
            for operation, table in (("INSERT", "NEW"), ("DELETE", "OLD"), ("UPDATE", "OLD")):
                await engine.run_ddl(
                    f"CREATE TRIGGER payout_line_frozen_{operation.lower()} AFTER {operation} "
                    f"ON payout_line REFERENCING {table} TABLE AS changed "
                    "FOR EACH STATEMENT EXECUTE FUNCTION payout_line_frozen()")

    manager.add_raw(constraints)
    return manager
