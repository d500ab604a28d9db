"""Worker-side database set-up: bind the engine and start the PostgreSQL pool on the
AsyncIO middleware's event loop (a pool belongs to one loop), close it before the loop stops."""

from __future__ import annotations

import dramatiq
from dramatiq.asyncio import async_to_sync
from dramatiq.middleware import Middleware

from ltc import db


class Database(Middleware):
    def __init__(self, database_url: str, pool_size: int) -> None:
        self.database_url = database_url
        self.pool_size = pool_size

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        db.bind(db.make_engine(self.database_url))
        async_to_sync(db.start_pool)(self.pool_size)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        async_to_sync(db.close_pool)()
