"""The organisation register (定点机构, issue 14 item 1) and the region and catalogue admin
(item 5).

Organisations get a finer category (assessment / township health centre / home-care agency /
care institution; `kind` stays assessment | provider for the contexts that read it), the
national code (医保信息业务编码, unique when given), licence, legal representative, address,
contact, the towns served, a status (normal / suspended / exited, `active` = normal) with its
history, and a version for optimistic concurrency. Existing providers become township health
centres (the Feicheng home-care model), assessment organisations stay assessment.

A pooling region carries its bureau's address and phone (printed on notices; publishing is
refused until both are filled in) and, optionally, its own pattern for organisation national
codes; a notice batch keeps the contact it was published with. Care items get their national
service-item code."""

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
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-05T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "organisation register, bureau contact per region, national care item codes"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(
        null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
        choices=None, db_column_name="id", secret=False)}, tablename=tablename, schema=None)


Organisation = _stub("Organisation", "organisation")


def _params(**overrides):
    return {"null": False, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
            "secret": False, **overrides}


def _text(length: int, **overrides):
    return (Varchar, _params(length=length, default="", **overrides))


COLUMNS = {
    ("Organisation", "organisation"): [
        ("category", *_text(20)),
        ("national_code", Varchar, _params(length=40, default=None, null=True)),
        ("licence_no", *_text(60)),
        ("legal_representative", *_text(50)),
        ("address", *_text(200)),
        ("contact_name", *_text(50)),
        ("contact_phone", *_text(20)),
        ("service_towns", Text, _params(default="")),
        ("status", Varchar, _params(length=10, default="normal")),
        ("version", Integer, _params(default=1)),
    ],
    ("OrganisationStatusChange", "organisation_status_change"): [
        ("organisation", ForeignKey, _params(
            references=Organisation, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade,
            target_column=None, index=True)),
        ("status", *_text(10)),
        ("effective_on", Date, _params(default=DateNow())),
        ("reason", Text, _params(default="")),
        ("changed_by", Integer, _params(default=None, null=True)),
        ("changed_by_name", *_text(100)),
        ("changed_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("Region", "region"): [
        ("bureau_address", *_text(200)),
        ("bureau_phone", *_text(30)),
        ("organisation_code_pattern", *_text(200)),
    ],
    ("NoticeBatch", "notice_batch"): [
        ("bureau_address", *_text(200)),
        ("bureau_phone", *_text(30)),
    ],
    ("CareItem", "care_item"): [
        ("national_code", *_text(40)),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)
    manager.add_table(class_name="OrganisationStatusChange",
                      tablename="organisation_status_change", schema=None, columns=None)
    for (class_name, tablename), columns in COLUMNS.items():
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=column_class.__name__,
                column_class=column_class, params=params, schema=None)

    return manager
