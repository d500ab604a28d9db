"""Dramatiq's Redis broker with a bounded recovery time for a dead worker's messages.

Dramatiq's RedisBroker records a worker's fetched-but-unacked messages per worker and, on a
random 1-in-`maintenance_chance` draw per command (default 1000 in a million), moves those of
workers without a heartbeat for `heartbeat_timeout` (default 60 s) back to their queues. With
those defaults a `kill -9`ed worker's job came back after minutes, at random. Here every
consuming process also runs that maintenance itself, on every queue it declared, each
`maintenance_interval` ms, from a small thread; the same call is its heartbeat, so a busy
worker (all threads inside long jobs, nothing fetched) still looks alive.

The bound, with the defaults H = heartbeat_timeout = 20 s and M = maintenance_interval = 5 s:
a dead worker's last heartbeat is at or before its death; any live worker that declares the
queue requeues its messages at its first maintenance after H, that is within H + M = 25 s of
the death; an idle worker thread then fetches them within its poll interval (Dramatiq's
worker_timeout, 1 s). So a killed worker's jobs run again within 26 s, as long as some worker
is running (a worker that boots later runs maintenance at once on start).

A live worker looks dead only after H without a heartbeat while its thread beats every M:
four missed beats in a row (e.g. Redis unreachable for 15 s or more), after which its running
jobs may run a second time; LTC's jobs are idempotent, so that costs work, not correctness.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from dramatiq.broker import Consumer
from dramatiq.brokers import redis as dramatiq_redis
from dramatiq.common import current_millis

logger = logging.getLogger(__name__)

HEARTBEAT_TIMEOUT = 20_000  # ms, H above
MAINTENANCE_INTERVAL = 5_000  # ms, M above


class RedisBroker(dramatiq_redis.RedisBroker):
    def __init__(
        self,
        *,
        heartbeat_timeout: int = HEARTBEAT_TIMEOUT,
        maintenance_interval: int = MAINTENANCE_INTERVAL,
        **options: Any,
    ) -> None:
        if maintenance_interval * 2 >= heartbeat_timeout:
            raise ValueError("maintenance_interval must be under half the heartbeat_timeout")
        super().__init__(heartbeat_timeout=heartbeat_timeout, **options)
        self.maintenance_interval = maintenance_interval
        self._stopping = threading.Event()
        self._maintainer: threading.Thread | None = None
        self._maintainer_lock = threading.Lock()

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        # Only consuming processes hold unacked messages, so only they need the thread.
        with self._maintainer_lock:
            if self._maintainer is None:
                self._maintainer = threading.Thread(
                    target=self._maintain_until_closed, name="redis-maintenance", daemon=True
                )
                self._maintainer.start()
        return super().consume(queue_name, prefetch, timeout)

    def maintain(self) -> None:
        """Heartbeat, and requeue dead workers' unacked messages, on every declared queue.

        Dramatiq's dispatch script reaps one queue per call, so each queue and its delay
        queue get a call; `qsize` is a read-only command to carry the maintenance flag."""
        dispatch = self.scripts["dispatch"]
        for queue_name in sorted(self.queues | self.delay_queues):
            dispatch(
                keys=[self.namespace],
                args=["qsize", current_millis(), queue_name, self.broker_id,
                      self.heartbeat_timeout, self.dead_message_ttl, 1,
                      self._max_unpack_size()],
            )

    def _maintain_until_closed(self) -> None:
        while True:
            try:
                self.maintain()
            except redis.RedisError:
                logger.warning("Redis maintenance failed; retrying", exc_info=True)
            except Exception:  # anything else would end the thread, and with it the heartbeat
                logger.exception("Redis maintenance failed unexpectedly; retrying")
            if self._stopping.wait(self.maintenance_interval / 1000):
                return

    def close(self) -> None:
        self._stopping.set()
        if self._maintainer is not None:
            self._maintainer.join(timeout=5)
        super().close()
