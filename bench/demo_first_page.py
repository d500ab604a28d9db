"""Seconds from `ltc demo` start to its first page (the login page answering 200), twice in
one fresh var directory: the first start builds the county (and keeps it for the day), the
second copies the kept one. Prints both; run: .venv/bin/python bench/demo_first_page.py"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_page_seconds(var_dir: Path) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env["LTC_VAR_DIR"] = str(var_dir)
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "ltc.cli", "demo", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login", timeout=60).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                time.sleep(0.2)
            if process.poll() is not None:
                raise SystemExit(f"ltc demo exited with {process.returncode}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(f"first start of the day (builds the county): {first_page_seconds(Path(tmp)):.1f} s")
        print(f"next start (the kept county):               {first_page_seconds(Path(tmp)):.1f} s")
