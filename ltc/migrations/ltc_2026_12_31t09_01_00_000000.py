"""Issue 17: the decision events' unique and dispatch indexes (raw DDL runs before the
tables of its own migration are made, hence a migration of its own)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-31T09:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "decision event indexes"

INDEXES = (
    # One sequence number per subject is given out once.
    "CREATE UNIQUE INDEX decision_event_stream_sequence ON decision_event (stream, sequence)",
    # A subscriber gets each event once.
    "CREATE UNIQUE INDEX event_delivery_once ON event_delivery (subscriber, event)",
    # The dispatcher: a subscriber's due pending deliveries, and a stream's earliest one.
    "CREATE INDEX event_delivery_due ON event_delivery (state, next_attempt_at)",
    "CREATE INDEX event_delivery_stream ON event_delivery (subscriber, stream, sequence)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        for statement in INDEXES:
            await engine_finder().run_ddl(statement)

    manager.add_raw(indexes)
    return manager
