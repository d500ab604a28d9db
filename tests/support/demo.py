"""Running `ltc demo` in a process of its own, for the tests that use the demo county. It
builds the county on the first start of the day in a var directory and copies the kept one
at every later start there: tests that share a var directory (the `demo_var_dir` session
fixture) build it once per session."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

LOGIN = re.compile(r"^\s+(clerk|assessor|provider|reviewer|admin)\s+(\S+)\s+(\S+)$", re.M)
BUILD_SECONDS = 600  # a first start builds the county: generous for a busy CI machine


def start_demo(var_dir: Path, port: int) -> tuple[subprocess.Popen, list[tuple[str, str, str]]]:
    """`ltc demo` on `port` with LTC_VAR_DIR=`var_dir` (no other LTC_ setting), once it
    answers: the process and the logins it printed (role, username, password). Its output
    goes to a file beside the var directory, never a pipe nobody reads (a full pipe would
    stall the process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env["LTC_VAR_DIR"] = str(var_dir)
    log = var_dir.parent / f"demo-{port}.log"
    var_dir.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ltc.cli", "demo", "--port", str(port)], env=env,
            stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + BUILD_SECONDS
    while True:
        output = log.read_text(encoding="utf-8", errors="replace")
        if "Uvicorn running" in output:
            return process, LOGIN.findall(output)
        if process.poll() is not None or time.monotonic() > deadline:
            stop_demo(process)
            raise AssertionError(f"ltc demo did not start:\n{output[-4000:]}")
        time.sleep(0.2)


def stop_demo(process: subprocess.Popen) -> None:
    """Ctrl+C's signal to the demo's process group, and wait for it to end."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)
