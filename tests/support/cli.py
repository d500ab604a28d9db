"""The `ltc` command run as an operator runs it: a new process, its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import anyio

from ltc import db


def ltc(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """With `env` and no other LTC_* variable: a newcomer's shell."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    return subprocess.run([sys.executable, "-m", "ltc.cli", *args], env={**clean, **env},
                          input=stdin, capture_output=True, text=True, timeout=300)


async def ltc_on(settings: Any, database_url: str, *args: str, **env: str) -> Any:
    """Against the test's own database, with the test's audit keys (set in os.environ by the
    database fixtures); `env` overrides."""
    # Production settings must name a broker; these commands never reach it.
    broker = settings.broker_url if db.is_sqlite() else "redis://127.0.0.1:6379/11"
    return await anyio.run_process(
        [sys.executable, "-m", "ltc.cli", *args], check=False,
        env={**os.environ, "LTC_DATABASE_URL": database_url, "LTC_BROKER_URL": broker,
             "LTC_VAR_DIR": str(settings.var_dir), "LTC_SECRET_KEY": "k" * 40, **env})
