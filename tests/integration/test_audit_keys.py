"""The audit log's key files: made once with owner-only permissions, never replaced; a
production process without the chain key stops, naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ltc import schema
from ltc.audit import keys
from ltc.settings import Settings, SettingsError


def test_init_keys_makes_missing_keys_owner_only_and_never_replaces_one(tmp_path: Path) -> None:
    settings = Settings.from_env({"LTC_VAR_DIR": str(tmp_path / "var")})
    created = keys.init_keys(settings)
    assert created == [settings.audit_key_file, settings.audit_signing_key_file,
                       settings.audit_public_key_file]
    assert [p.stat().st_mode & 0o777 for p in created] == [0o600, 0o600, 0o644]
    before = [p.read_bytes() for p in created]
    settings.audit_public_key_file.unlink()  # e.g. not copied to this host
    assert keys.init_keys(settings) == [settings.audit_public_key_file]
    assert [p.read_bytes() for p in created] == before
    assert keys.public_key(settings) == keys.signing_key(settings).public_key()


def test_the_chain_key_is_made_on_first_use_only_on_the_embedded_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTC_AUDIT_KEY_FILE", str(tmp_path / "embedded_key"))
    monkeypatch.delenv("LTC_DATABASE_URL", raising=False)
    assert len(keys.chain_key()) == 32
    assert (tmp_path / "embedded_key").stat().st_mode & 0o777 == 0o600

    monkeypatch.setenv("LTC_AUDIT_KEY_FILE", str(tmp_path / "production_key"))
    monkeypatch.setenv("LTC_DATABASE_URL", "postgresql://ltc@db/ltc")
    with pytest.raises(SettingsError) as refused:
        keys.chain_key()
    assert refused.value.variable == "LTC_AUDIT_KEY_FILE"
    assert "ltc audit init-keys" in str(refused.value)
    assert not (tmp_path / "production_key").exists()


@pytest.mark.parametrize("role", ["ltc-app", "ltc app", 'x"; DROP TABLE y; --', "1ltc", "李"])
def test_only_a_plain_role_name_is_granted(role: str) -> None:
    with pytest.raises(ValueError, match="plain role name"):
        schema.app_role_grants(role)


def test_the_audit_log_is_granted_append_only() -> None:
    grants = schema.app_role_grants("ltc_app")
    assert 'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_event FROM "ltc_app"' \
        in grants


def test_grant_app_role_explains_that_sqlite_has_no_roles(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    result = subprocess.run([sys.executable, "-m", "ltc.cli", "db", "grant-app-role", "ltc_app"],
                            env={**env, "LTC_VAR_DIR": str(tmp_path)}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "roles exist only on PostgreSQL" in result.stderr and "Traceback" not in result.stderr
