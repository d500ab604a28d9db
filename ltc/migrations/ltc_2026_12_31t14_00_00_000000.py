"""Issue 19 item 1: evidence uploads in progress over tus 1.0 (ltc.evidence.resumable)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import BigInt, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-31T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "resumable evidence uploads"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Assessment = _stub("Assessment", "assessment")
EvidenceFile = _stub("EvidenceFile", "evidence_file")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, on_delete=OnDelete.restrict, **overrides):
    return _params(references=references, on_delete=on_delete,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


COLUMNS = [
    ("key", Varchar, _params(length=32, default="", unique=True)),
    ("owner", ForeignKey, _fk(User)),
    ("assessment", ForeignKey, _fk(Assessment)),
    ("length", BigInt, _params(default=0)),
    ("offset", BigInt, _params(default=0)),
    ("content_type", Varchar, _params(length=40, default="")),
    ("original_name", Varchar, _params(length=200, default="")),
    ("recorded_at", Timestamptz, _params(null=True)),
    ("patch_token", Varchar, _params(length=32, default="")),
    ("patch_seen_at", Timestamptz, _params(null=True)),
    ("evidence", ForeignKey, _fk(EvidenceFile, on_delete=OnDelete.cascade, null=True)),
    ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ("expires_at", Timestamptz, _params(default=TimestamptzNow(), index=True)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_table(class_name="ResumableUpload", tablename="resumable_upload", schema=None,
                      columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="ResumableUpload", tablename="resumable_upload", column_name=name,
            db_column_name=name, column_class_name=column_class.__name__,
            column_class=column_class, params=params, schema=None)
    return manager
