"""Applying the migration history to the bound database."""

from __future__ import annotations

import os

os.environ.setdefault("PICCOLO_CONF", "ltc.piccolo_conf")


async def migrate() -> None:
    """Apply every migration not yet applied. Safe to run on every deploy."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="ltc", migration_id="all", fake=False)
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


# The app may change every table but the audit log, which it may only append to and read;
# it owns nothing, so it can neither disable the append-only trigger nor alter a table.
# Default privileges cover tables a later migration (run by the same owner) creates.
_APP_ROLE_GRANTS = (
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_event FROM {role}",
    "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON migration FROM {role}",  # Piccolo's history
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
)


def app_role_grants(role: str) -> list[str]:
    """The GRANTs that make `role` LTC's app role on PostgreSQL (README "Security for
    operators"); run as the role that owns the tables, after `ltc migrate`."""
    if not role.replace("_", "").isalnum() or not role.isascii() or role[0].isdigit():
        raise ValueError(f"{role!r} is not a plain role name (letters, digits, _)")
    return [sql.format(role=f'"{role}"') for sql in _APP_ROLE_GRANTS]


async def grant_app_role(role: str) -> None:
    from piccolo.engine import engine_finder

    engine = engine_finder()
    if engine.engine_type == "sqlite":
        raise ValueError("roles exist only on PostgreSQL; SQLite has no app role to grant")
    for sql in app_role_grants(role):
        await engine.run_ddl(sql)
