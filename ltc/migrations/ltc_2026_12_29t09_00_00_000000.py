"""Issue 16 item 4 (21号文): sanctions of organisations and staff, the ban register (禁入名单),
a provider's exit with its client handover worklist, and the legal representative's resident
ID on the organisation register (the ban register is by person)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Date,
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

ID = "2026-12-29T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sanctions, ban register, provider exits and their handover worklists"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


User = _stub("User", "ltc_user")
Organisation = _stub("Organisation", "organisation")
Person = _stub("Person", "person")
CarePlan = _stub("CarePlan", "care_plan")
Agreement = _stub("Agreement", "agreement")
StaffMember = _stub("StaffMember", "staff_member")
Entitlement = _stub("Entitlement", "entitlement")
ProviderExit = _stub("ProviderExit", "provider_exit")


def _params(**overrides):
    return {"default": None, "null": False, "primary_key": False, "unique": False,
            "index": False, "index_method": IndexMethod.btree, "choices": None,
            "db_column_name": None, "secret": False, **overrides}


def _fk(references, **overrides):
    return _params(references=references, on_delete=OnDelete.restrict,
                   on_update=OnUpdate.cascade, target_column=None, **overrides)


def _text(length: int, **overrides):
    return (Varchar, _params(length=length, default="", **overrides))


NEW_TABLES = {
    ("Sanction", "sanction"): [
        ("target", *_text(12)),
        ("organisation", ForeignKey, _fk(Organisation, index=True)),
        ("staff", ForeignKey, _fk(StaffMember, null=True, index=True)),
        ("agreement", ForeignKey, _fk(Agreement, null=True)),
        ("measure", *_text(12)),
        ("category", *_text(20)),
        ("reason", Text, _params(default="")),
        ("legal_basis", Text, _params(default="")),
        ("starts_on", Date, _params()),
        ("ends_on", Date, _params(null=True)),
        ("region_path", *_text(200, index=True)),
        ("created_by", ForeignKey, _fk(User, null=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("Ban", "ban"): [
        ("resident_id", *_text(18, index=True)),
        ("name", *_text(50)),
        ("category", *_text(20)),
        ("reason", Text, _params(default="")),
        ("legal_basis", Text, _params(default="")),
        ("starts_on", Date, _params()),
        ("ends_on", Date, _params()),
        ("region_path", *_text(200, index=True)),
        ("created_by", ForeignKey, _fk(User, null=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("ProviderExit", "provider_exit"): [
        ("organisation", ForeignKey, _fk(Organisation, index=True)),
        ("region_path", *_text(200, index=True)),
        ("notice_on", Date, _params()),
        ("exit_on", Date, _params()),
        ("reason", Text, _params(default="")),
        ("state", *_text(12, index=True)),
        ("created_by", ForeignKey, _fk(User, null=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("completed_at", Timestamptz, _params(null=True)),
        ("version", Integer, _params(default=1)),
    ],
    ("HandoverItem", "handover_item"): [
        ("provider_exit", ForeignKey, _fk(ProviderExit, index=True)),
        ("person", ForeignKey, _fk(Person)),
        ("entitlement", ForeignKey, _fk(Entitlement)),
        ("care_plan", ForeignKey, _fk(CarePlan)),
        ("town", *_text(40)),
        ("proposed", ForeignKey, _fk(Organisation, null=True)),
        ("chosen", ForeignKey, _fk(Organisation, null=True)),
        ("new_plan", ForeignKey, _fk(CarePlan, null=True)),
        ("state", *_text(12, index=True)),
        ("done_by", ForeignKey, _fk(User, null=True)),
        ("done_at", Timestamptz, _params(null=True)),
        ("version", Integer, _params(default=1)),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Organisation", tablename="organisation",
        column_name="legal_representative_id", db_column_name="legal_representative_id",
        column_class_name="Varchar", column_class=Varchar, params=_params(length=18, default=""),
        schema=None)
    for (class_name, tablename), columns in NEW_TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None,
                          columns=None)
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=column_class.__name__,
                column_class=column_class, params=params, schema=None)
    return manager
