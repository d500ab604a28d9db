"""Broker selection. Dramatiq binds actors to the broker that is global when they are
imported, so `install_broker()` must run before any module that defines actors is imported
(workers/__init__.py and ltc.app do this first).

LTC_BROKER_URL forms:
  sqlite:///var/queue.sqlite3   the embedded broker (ltc.jobs.sqlite_broker), one machine
  redis://host:6379/0           Redis (run it with AOF so queued jobs survive a restart)
  amqp://user:pass@host:5672/   RabbitMQ, with publisher confirms
  stub://                       Dramatiq's in-memory StubBroker, for unit tests only

Broker tuning may ride on the URL's query string (integers only), passed to the broker's
constructor: e.g. `sqlite:///var/queue.sqlite3?heartbeat_timeout=30000` (see SQLiteBroker for
its options, all in ms) or `redis://127.0.0.1:6379/15?heartbeat_timeout=30000&
maintenance_interval=10000` (see ltc.jobs.redis_broker for how these bound a dead worker's
recovery: 26 s with the defaults). RabbitMQ needs no tuning: it requeues a consumer's unacked
messages itself as soon as its connection closes, which a killed process's does at once.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from ltc.jobs.redis_broker import RedisBroker
from ltc.settings import sqlite_path


def split_options(url: str) -> tuple[str, dict[str, int]]:
    """The URL without its query string, and the query's integer tuning options."""
    # Not urlunsplit: it would turn sqlite:////abs/path into sqlite://abs/path.
    base, _, query = url.partition("?")
    return base, {key: int(value) for key, value in parse_qsl(query)}


def make_broker(url: str) -> dramatiq.Broker:
    """A broker for `url` with Dramatiq's default middleware plus AsyncIO (async actors)."""
    base, options = split_options(url)
    scheme = urlsplit(base).scheme
    if scheme == "sqlite":
        from ltc.jobs.sqlite_broker import SQLiteBroker

        broker: dramatiq.Broker = SQLiteBroker(str(sqlite_path(base)), **options)
    elif scheme in ("redis", "rediss"):
        broker = RedisBroker(url=base, **options)
    elif scheme in ("amqp", "amqps"):
        broker = RabbitmqBroker(url=base, confirm_delivery=True, **options)
    elif scheme == "stub":
        broker = StubBroker()
    else:
        raise ValueError(f"unsupported broker URL {url!r}")
    # Dramatiq 2 does not add AsyncIO by default; our actors are async.
    broker.add_middleware(AsyncIO())
    return broker


def install_broker(url: str) -> dramatiq.Broker:
    """Make the broker for `url` the global one, before actor modules are imported."""
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    return broker


def broker_reachable(url: str) -> bool:
    """A cheap round trip to the broker, for /healthz. Blocking: call it in a thread."""
    base, _ = split_options(url)
    scheme = urlsplit(base).scheme
    try:
        if scheme == "sqlite":
            import sqlite3

            with sqlite3.connect(sqlite_path(base), timeout=5) as connection:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        elif scheme in ("redis", "rediss"):
            import redis

            client = redis.Redis.from_url(base, socket_timeout=5, socket_connect_timeout=5)
            client.ping()
            client.close()
        elif scheme in ("amqp", "amqps"):
            import pika

            parameters = pika.URLParameters(base)
            parameters.socket_timeout = 5
            pika.BlockingConnection(parameters).close()
    except Exception:
        return False
    return True
