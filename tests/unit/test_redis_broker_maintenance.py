"""The maintenance thread is the worker's heartbeat: no error may end it."""

from __future__ import annotations

import logging

import pytest
import redis

from ltc.jobs.redis_broker import RedisBroker


@pytest.mark.parametrize("error", [redis.ConnectionError("down"), KeyError("surprise")])
def test_maintenance_goes_on_after_any_error(error: Exception, caplog) -> None:
    # No connection is made: maintain() is replaced, and the client connects lazily.
    broker = RedisBroker(url="redis://127.0.0.1:1/0", maintenance_interval=1)
    calls = []

    def maintain() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise error
        broker._stopping.set()  # the second round ran: stop the loop

    broker.maintain = maintain  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="ltc.jobs.redis_broker"):
        broker._maintain_until_closed()  # returns only once the loop has gone on
    assert len(calls) == 2
    assert "Redis maintenance failed" in caplog.text
