from pathlib import Path

import pytest

from ltc.settings import Settings, SettingsError


def test_embedded_defaults_need_no_servers_and_keep_a_generated_secret(tmp_path: Path) -> None:
    env = {"LTC_VAR_DIR": str(tmp_path)}
    first = Settings.from_env(env)
    assert first.database_url == f"sqlite:///{tmp_path / 'ltc.sqlite3'}"
    assert first.sqlite_path == tmp_path / "ltc.sqlite3"
    assert first.broker_url.startswith("sqlite:///")
    assert first.time_zone.key == "Asia/Shanghai"
    assert first.media_dir == tmp_path / "media"
    # Generated once, then reused so sessions survive a restart.
    assert Settings.from_env(env).secret_key == first.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_settings(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "LTC_VAR_DIR": str(tmp_path),
        "LTC_DATABASE_URL": "postgresql://ltc@db/ltc",
        "LTC_BROKER_URL": "redis://cache:6379/0",
        "LTC_SECRET_KEY": "x" * 40,
    })
    assert not settings.is_embedded
    assert not (tmp_path / "secret_key").exists()
    assert settings.migration_database_url == settings.database_url  # one role unless split
    split = Settings.from_env({
        "LTC_VAR_DIR": str(tmp_path), "LTC_DATABASE_URL": "postgresql://ltc_app@db/ltc",
        "LTC_MIGRATION_DATABASE_URL": "postgresql://ltc_owner@db/ltc",
        "LTC_BROKER_URL": "redis://cache:6379/0", "LTC_SECRET_KEY": "x" * 40,
        "LTC_AUDIT_KEY_FILE": "/etc/ltc/audit_key",
        "LTC_AUDIT_SIGNING_KEY_FILE": "/etc/ltc/signing", "LTC_AUDIT_CHECKPOINT_DIR": "/srv/cp"})
    assert split.migration_database_url == "postgresql://ltc_owner@db/ltc"
    assert (split.audit_key_file, split.audit_signing_key_file, split.audit_public_key_file,
            split.audit_checkpoint_dir) == (Path("/etc/ltc/audit_key"), Path("/etc/ltc/signing"),
                                            Path("/etc/ltc/signing.pub"), Path("/srv/cp"))
    # Nothing is created for production: the operator makes the keys (ltc audit init-keys).
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LTC_DATABASE_URL": "mysql://x/y"}, "LTC_DATABASE_URL"),
        ({"LTC_DATABASE_URL": "sqlite://"}, "LTC_DATABASE_URL"),
        ({"LTC_BROKER_URL": "kafka://k:9092"}, "LTC_BROKER_URL"),
        ({"LTC_DATABASE_URL": "postgresql://db/ltc", "LTC_SECRET_KEY": "x" * 40},
         "LTC_BROKER_URL"),
        ({"LTC_DATABASE_URL": "postgresql://db/ltc", "LTC_BROKER_URL": "redis://r"},
         "LTC_SECRET_KEY"),
        ({"LTC_SECRET_KEY": "short"}, "LTC_SECRET_KEY"),
        ({"LTC_TIME_ZONE": "Asia/Beijing"}, "LTC_TIME_ZONE"),
        ({"LTC_PASSWORD_ITERATIONS": "lots"}, "LTC_PASSWORD_ITERATIONS"),
        ({"LTC_PASSWORD_ITERATIONS": "10"}, "LTC_PASSWORD_ITERATIONS"),
        ({"LTC_LOGIN_MAX_FAILURES": "0"}, "LTC_LOGIN_MAX_FAILURES"),
        ({"LTC_DEBUG": "maybe"}, "LTC_DEBUG"),
        ({"LTC_MIGRATION_DATABASE_URL": "mysql://x/y"}, "LTC_MIGRATION_DATABASE_URL"),
        ({"LTC_ENROLMENT_URL": "ftp://ybj/api"}, "LTC_ENROLMENT_URL"),
        ({"LTC_ENROLMENT_URL": "ybj.example.gov.cn"}, "LTC_ENROLMENT_URL"),
        ({"LTC_ENROLMENT_TIMEOUT": "fast"}, "LTC_ENROLMENT_TIMEOUT"),
        ({"LTC_ENROLMENT_TIMEOUT": "0"}, "LTC_ENROLMENT_TIMEOUT"),
        ({"LTC_ENROLMENT_TIMEOUT": "120"}, "LTC_ENROLMENT_TIMEOUT"),
        ({"LTC_ENROLMENT_RETRIES": "-1"}, "LTC_ENROLMENT_RETRIES"),
        ({"LTC_ENROLMENT_FAILURE_THRESHOLD": "0"}, "LTC_ENROLMENT_FAILURE_THRESHOLD"),
        ({"LTC_ENROLMENT_COOL_DOWN": "0"}, "LTC_ENROLMENT_COOL_DOWN"),
    ],
)
def test_misconfiguration_names_the_variable(env: dict, variable: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"LTC_VAR_DIR": str(tmp_path), **env})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable + ":")


def test_the_enrolment_system_settings(tmp_path: Path) -> None:
    default = Settings.from_env({"LTC_VAR_DIR": str(tmp_path)})
    assert (default.enrolment_url, default.enrolment_timeout, default.enrolment_retries,
            default.enrolment_failure_threshold, default.enrolment_cool_down) == ("", 2.0, 2, 5, 30)
    set_ = Settings.from_env({"LTC_VAR_DIR": str(tmp_path),
                              "LTC_ENROLMENT_URL": " https://ybj.example.gov.cn/api/ ",
                              "LTC_ENROLMENT_TOKEN": "t", "LTC_ENROLMENT_TIMEOUT": "0.5",
                              "LTC_ENROLMENT_RETRIES": "0"})
    assert (set_.enrolment_url, set_.enrolment_token, set_.enrolment_timeout,
            set_.enrolment_retries) == ("https://ybj.example.gov.cn/api", "t", 0.5, 0)
