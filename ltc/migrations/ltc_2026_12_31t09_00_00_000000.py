"""Issue 17: decision events out — subscribers, the events with a sequence per subject,
and every delivery and attempt (ltc.decision_events)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-31T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "decision events, subscribers and deliveries"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
EventSubscriber = _stub("EventSubscriber", "event_subscriber")
DecisionEvent = _stub("DecisionEvent", "decision_event")
EventDelivery = _stub("EventDelivery", "event_delivery")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = {
    ("EventSubscriber", "event_subscriber"): [
        ("name", Varchar, _params(length=100, default="")),
        ("url", Varchar, _params(length=500, default="")),
        ("event_types", Text, _params(default="[]")),
        ("secret", Varchar, _params(length=64, default="")),
        ("active", Boolean, _params(default=True)),
        ("created_by", ForeignKey, _fk(User, null=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("version", Integer, _params(default=1)),
    ],
    ("EventStream", "event_stream"): [
        ("stream", Varchar, _params(length=60, default="", unique=True)),
        ("last_sequence", Integer, _params(default=0)),
    ],
    ("DecisionEvent", "decision_event"): [
        ("event_id", Varchar, _params(length=36, default="", unique=True)),
        ("event_type", Varchar, _params(length=40, default="", index=True)),
        ("stream", Varchar, _params(length=60, default="")),
        ("sequence", Integer, _params(default=0)),
        ("occurred_at", Timestamptz, _params(default=TimestamptzNow())),
        ("body", Text, _params(default="")),
        ("created_at", Timestamptz, _params(default=TimestamptzNow(), index=True)),
    ],
    ("EventDelivery", "event_delivery"): [
        ("subscriber", ForeignKey, _fk(EventSubscriber)),
        ("event", ForeignKey, _fk(DecisionEvent, index=True)),
        ("stream", Varchar, _params(length=60, default="")),
        ("sequence", Integer, _params(default=0)),
        ("state", Varchar, _params(length=10, default="pending")),
        ("attempts", Integer, _params(default=0)),
        ("first_attempt_at", Timestamptz, _params(null=True)),
        ("next_attempt_at", Timestamptz, _params(default=TimestamptzNow())),
        ("claimed_until", Timestamptz, _params(null=True)),
        ("last_status", Integer, _params(null=True)),
        ("last_error", Text, _params(default="")),
        ("delivered_at", Timestamptz, _params(null=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("EventDeliveryAttempt", "event_delivery_attempt"): [
        ("delivery", ForeignKey, _fk(EventDelivery, index=True)),
        ("number", Integer, _params(default=0)),
        ("at", Timestamptz, _params(default=TimestamptzNow())),
        ("status", Integer, _params(null=True)),
        ("answer", Text, _params(default="")),
        ("error", Text, _params(default="")),
        ("duration_ms", Integer, _params(default=0)),
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
