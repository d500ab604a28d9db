"""The role split as an operator sets it up: `ltc migrate` and `ltc db grant-app-role` run as
the owner (LTC_MIGRATION_DATABASE_URL), then the app role works but cannot rewrite history."""

import os
import sqlite3
from pathlib import Path

import pytest
from conftest import APP_ROLE, PG_URL, _as_app_role, _pg_admin_url, _pg_execute
from support.cli import ltc

pytestmark = pytest.mark.anyio


async def test_migrate_runs_as_the_owner_and_the_app_role_serves_the_rest(
        tmp_path: Path, template_database) -> None:  # the template checks the app role exists
    env = {"LTC_VAR_DIR": str(tmp_path), "LTC_PASSWORD_ITERATIONS": "1000"}
    if PG_URL:
        name = f"ltc_roles_{os.getpid()}"
        await _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await _pg_execute(f"CREATE DATABASE {name}")
        owner = _pg_admin_url(PG_URL, name)
        env |= {"LTC_DATABASE_URL": _as_app_role(owner), "LTC_MIGRATION_DATABASE_URL": owner,
                "LTC_BROKER_URL": "redis://127.0.0.1:6379/11", "LTC_SECRET_KEY": "k" * 40}
        assert ltc("audit", "init-keys", env=env).returncode == 0
    else:  # no roles: the migration URL still decides which database is migrated
        env |= {"LTC_DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
                "LTC_MIGRATION_DATABASE_URL": f"sqlite:///{tmp_path / 'owner.sqlite3'}"}
    try:
        migrated = ltc("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        if not PG_URL:
            with sqlite3.connect(tmp_path / "owner.sqlite3") as connection:
                assert connection.execute("SELECT count(*) FROM audit_event").fetchone() == (0,)
            assert not (tmp_path / "app.sqlite3").exists()
            return
        before = ltc("createuser", "--username", "wang", "--name", "王经办", "--role", "clerk",
                     "--region", "370983", "--password-stdin", env=env, stdin="abc12345\n")
        assert before.returncode == 1 and "permission denied" in before.stderr
        granted = ltc("db", "grant-app-role", APP_ROLE, env=env)
        assert granted.returncode == 0, granted.stderr
        created = ltc("createuser", "--username", "wang", "--name", "王经办", "--role", "clerk",
                      "--region", "370983", "--password-stdin", env=env, stdin="abc12345\n")
        assert created.returncode == 0, created.stderr
        verified = ltc("audit", "verify", env=env)
        assert verified.returncode == 0 and "1 events verified" in verified.stdout
    finally:
        if PG_URL:
            await _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
