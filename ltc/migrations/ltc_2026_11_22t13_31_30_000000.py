"""Payouts: one batch per region and month, one line per payee, beneficiary, benefit, service
month and kind, unique payment references per batch and payee, the four-eyes rule on
approval, and lines that never change once their batch leaves DRAFT (both engines).

On PostgreSQL the payout lines' references are not foreign-key constraints: a month of a
million beneficiaries inserts 1.3 million lines, and checking eight foreign keys per line
took 66 of the computation's 168 seconds (bench/payout.py, EXPLAIN ANALYZE). Lines are made
only by INSERT … SELECT joining the very rows they name, and nothing in the system deletes
a person, an entitlement, an agreement, an organisation or a policy version (every other
reference RESTRICTs), so the check could never fail. SQLite keeps its constraints (cheap at
its scale), with the index that deleting a draft's lines needs for the self-reference."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T13:31:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "payout constraints"

LINE_REFERENCES = ("batch", "organisation", "agreement", "person", "entitlement", "adjusts",
                   "carried_payment", "policy_version")
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
            await engine.run_ddl("CREATE INDEX payout_line_adjusts ON payout_line (adjusts)")
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
            for column in LINE_REFERENCES:
                await engine.run_ddl(
                    f"ALTER TABLE payout_line DROP CONSTRAINT payout_line_{column}_fkey")
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
