"""Actors for the `dramatiq` worker subprocesses of tests/integration/test_broker.py.

The broker comes from LTC_BROKER_URL and is installed before any actor is defined (Dramatiq
binds actors to the global broker). Runs are recorded in the file named by LTC_TEST_RECORD as
lines `start|end <key> <pid>`, each one os.write() to an O_APPEND file: the writes of several
processes never interleave, so the file's line order is the order in which events happened.
"""

from __future__ import annotations

import os
import time

import dramatiq

from ltc.jobs.broker import install_broker

install_broker(os.environ["LTC_BROKER_URL"])
RECORD = os.environ["LTC_TEST_RECORD"]


def record(event: str, key: str) -> None:
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {key} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


# No retries: a failed run must show up in the record, not be hidden by a second attempt.
@dramatiq.actor(queue_name="tracked", max_retries=0)
def tracked(key: str, seconds: float) -> None:
    record("start", key)
    time.sleep(seconds)
    record("end", key)
