"""Assessors' qualifications move from their accounts to the staff register, its single
source of truth: each account with a qualification (评估员 or 评估专家, certificate number,
last valid day) gets a staff record linked to it, of its organisation, 在职 if the account is
active and 离职 if not; then the account's three columns go. Resident ID and national staff
code are not known from an account: those records show them as missing (待补录) until an
admin or clerk completes them. An account with a qualification but no organisation (none
can be made: assessors belong to one) would be skipped."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from datetime import UTC, datetime

from piccolo.columns.column_types import Serial
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

from ltc.people.rules import name_initials

ID = "2026-12-06T10:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "assessor qualifications into the staff register"

USER_COLUMNS = ("qualification", "certificate_no", "qualified_until")


class User(Table, tablename="ltc_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False,
                index_method=IndexMethod.btree, choices=None, db_column_name="id", secret=False)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ltc", description=DESCRIPTION)

    async def copy():
        users = await User.raw(
            "SELECT u.id, u.display_name, u.qualification, u.certificate_no, "
            "u.qualified_until, u.organisation, u.active, r.path AS region_path "
            "FROM ltc_user u JOIN organisation o ON o.id = u.organisation "
            "JOIN region r ON r.id = o.region "
            "WHERE u.qualification <> '' AND u.qualified_until IS NOT NULL ORDER BY u.id")
        for user in users:
            await User.raw(
                "INSERT INTO staff_member (name, name_initials, kind, certificate_no, "
                "certificate_until, organisation, region_path, \"user\", status, created_at, "
                "version) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 1)",
                user["display_name"], name_initials(user["display_name"]),
                user["qualification"], user["certificate_no"], user["qualified_until"],
                user["organisation"], user["region_path"], user["id"],
                "active" if user["active"] else "left", datetime.now(UTC))

    manager.add_raw(copy)
    for name in USER_COLUMNS:
        manager.drop_column(table_class_name="User", tablename="ltc_user", column_name=name,
                            db_column_name=name, schema=None)
    return manager
