"""The `ltc` command as support staff use it."""

from pathlib import Path

import pytest
from support.cli import ltc


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"LTC_DATABASE_URL": "mysql://db/ltc"}, "LTC_DATABASE_URL"),
     ({"LTC_DATABASE_URL": "postgresql://db/ltc", "LTC_BROKER_URL": "redis://r:6379/0"},
      "LTC_SECRET_KEY"),
     ({"LTC_TIME_ZONE": "Mars/Olympus"}, "LTC_TIME_ZONE")],
)
@pytest.mark.parametrize("command", [["migrate"], ["serve"], ["worker"], ["scheduler"]])
def test_misconfiguration_stops_at_start_naming_the_variable(
    tmp_path: Path, env: dict, variable: str, command: list[str]
) -> None:
    result = ltc(*command, env={"LTC_VAR_DIR": str(tmp_path), **env})
    assert result.returncode == 1
    assert f"configuration error: {variable}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_is_repeatable_and_createuser_makes_a_user_who_can_sign_in(
    tmp_path: Path
) -> None:
    env = {"LTC_VAR_DIR": str(tmp_path), "LTC_PASSWORD_ITERATIONS": "1000"}
    assert ltc("migrate", env=env).returncode == 0
    assert ltc("migrate", env=env).returncode == 0
    created = ltc("createuser", "--username", "wang", "--name", "王经办", "--role", "clerk",
                  "--region", "370983", "--password-stdin", env=env, stdin="abc12345\n")
    assert created.returncode == 0, created.stderr
    bad = ltc("createuser", "--username", "li", "--name", "李评估", "--role", "assessor",
              "--region", "370983", "--password-stdin", env=env, stdin="short\n")
    assert bad.returncode == 1
    assert "评估员必须属于一个机构" in bad.stderr and "密码至少需要8个字符" in bad.stderr
    verified = ltc("audit", "verify", env=env)
    assert verified.returncode == 0 and "1 events verified" in verified.stdout
