"""The job brokers against real storage and real worker processes, no mocks.

Every broker test runs on the embedded SQLite broker (a fresh file) and, when
LTC_TEST_BROKER_URL is set (e.g. redis://127.0.0.1:6379/15), on that broker too; its Redis
database is flushed before and after each test. The tests named test_sqlite_* cover what only
the embedded broker promises (dedupe by message id, leases, purge, its reaper).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dramatiq
import pytest
import redis
from conftest import unavailable
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.common import current_millis
from dramatiq.message import Message

from ltc.jobs.broker import broker_reachable, make_broker, split_options
from ltc.jobs.sqlite_broker import SQLiteBroker

ROOT = Path(__file__).resolve().parents[2]
DRAMATIQ = Path(sys.executable).with_name("dramatiq")
T = TypeVar("T")

# Reaper settings for the kill -9 test, so a dead worker's message comes back in seconds, not
# a minute; they also show that an operator's URL tuning reaches the broker.
FAST_REAPER = {
    "sqlite": {"heartbeat_timeout": 2000, "heartbeat_interval": 250},
    "redis": {"heartbeat_timeout": 2000, "maintenance_interval": 500},
}
# Issue 13: with the shipped defaults, a killed worker's job must run again within a minute.
RECOVERY_BOUND = 60


@dataclass
class Target:
    """A broker under test: its kind and URL."""

    kind: str
    base_url: str

    def url(self, *, fast_reaper: bool = False) -> str:
        if not fast_reaper:
            return self.base_url
        query = "&".join(f"{k}={v}" for k, v in FAST_REAPER[self.kind].items())
        return f"{self.base_url}?{query}"

    def dead_letter_ids(self, broker: dramatiq.Broker, queue_name: str) -> list[str]:
        if isinstance(broker, SQLiteBroker):
            return [m.message_id for m in broker.dead_letters(queue_name)]
        # The Redis broker keeps dead letters in the hash $namespace:$queue.XQ.msgs.
        key = f"{broker.namespace}:{queue_name}.XQ.msgs"
        return [Message.decode(data).message_id for data in broker.client.hvals(key)]


BROKERS = ["sqlite"] + (["env"] if os.environ.get("LTC_TEST_BROKER_URL") else [])


@pytest.fixture(params=BROKERS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target("sqlite", f"sqlite:///{tmp_path / 'queue.sqlite3'}")
        return
    url = os.environ["LTC_TEST_BROKER_URL"]
    base, options = split_options(url)
    if not base.startswith(("redis://", "rediss://")) or options:
        pytest.fail("LTC_TEST_BROKER_URL must be a redis:// URL without query options")
    client = redis.Redis.from_url(base)
    client.flushdb()
    try:
        yield Target("redis", base)
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def sqlite_broker(tmp_path: Path) -> Iterator[SQLiteBroker]:
    broker = SQLiteBroker(str(tmp_path / "queue.sqlite3"))
    yield broker
    broker.close()


def wait_until(
    predicate: Callable[[], T], *, timeout: float, what: str, context: Callable[[], str] = str
) -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{context()}")
        time.sleep(0.02)
    return result


def message(queue_name: str, *args: object, actor_name: str = "probe") -> Message:
    return Message(queue_name=queue_name, actor_name=actor_name, args=args, kwargs={}, options={})


def take(consumer: Consumer, count: int) -> list[MessageProxy]:
    """The next `count` messages the consumer delivers (it returns None while it polls)."""
    taken: list[MessageProxy] = []

    def more() -> bool:
        proxy = next(consumer)
        if proxy is not None:
            taken.append(proxy)
        return len(taken) >= count

    wait_until(more, timeout=10, what=f"{count} messages")
    return taken


def nothing_to_take(consumer: Consumer, polls: int = 3) -> bool:
    return all(next(consumer) is None for _ in range(polls))


@contextmanager
def in_process_worker(broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        broker.close()


# -- Fast tests of the broker alone -----------------------------------------------------------


def test_enqueue_consume_ack_requeue(target: Target) -> None:
    broker = make_broker(target.url())
    sent = [broker.enqueue(message("unit", i)) for i in range(3)]

    consumer = broker.consume("unit", prefetch=10, timeout=100)
    first = take(consumer, 3)
    assert [m.message_id for m in first] == [m.message_id for m in sent]  # FIFO
    consumer.ack(first[0])
    consumer.ack(first[1])
    consumer.requeue([first[2]])  # fetched but not processed, as on worker shutdown

    (again,) = take(consumer, 1)
    assert again.message_id == sent[2].message_id
    consumer.ack(again)
    assert nothing_to_take(consumer)
    broker.join("unit", timeout=2000)
    consumer.close()
    broker.close()


def test_prefetch_is_respected(target: Target) -> None:
    broker = make_broker(target.url())
    for i in range(5):
        broker.enqueue(message("unit", i))
    consumer = broker.consume("unit", prefetch=2, timeout=100)
    first, _ = take(consumer, 2)
    assert nothing_to_take(consumer)  # two outstanding: no third until one is settled
    consumer.ack(first)
    take(consumer, 1)
    assert nothing_to_take(consumer)
    consumer.close()
    broker.close()


def test_sqlite_dedupes_resent_message_ids(sqlite_broker: SQLiteBroker) -> None:
    original = sqlite_broker.enqueue(message("unit", "x"))
    # The outbox relay re-sends a copy with the same id, in every state of the original.
    resend = Message(**original.asdict())
    sqlite_broker.enqueue(resend)
    assert sqlite_broker.pending("unit") == 1

    consumer = sqlite_broker.consume("unit", prefetch=10, timeout=100)
    (running,) = take(consumer, 1)
    sqlite_broker.enqueue(resend)
    assert nothing_to_take(consumer)

    consumer.ack(running)
    sqlite_broker.enqueue(resend, delay=0)
    assert sqlite_broker.pending("unit") == 0
    assert nothing_to_take(consumer)


def test_sqlite_retry_reschedules_the_running_delivery(sqlite_broker: SQLiteBroker) -> None:
    sqlite_broker.enqueue(message("unit", "x"))
    consumer = sqlite_broker.consume("unit", prefetch=10, timeout=100)
    (first,) = take(consumer, 1)

    # What Retries does on failure, before the worker acks: re-enqueue the delivered proxy.
    first.options["retries"] = 1
    sqlite_broker.enqueue(first, delay=60_000)
    consumer.ack(first)  # the worker's ack of the failed delivery must not finish the retry
    assert sqlite_broker.pending("unit") == 1
    assert nothing_to_take(consumer)  # not due for a minute

    sqlite_broker.enqueue(first, delay=0)  # a stale lease no longer reschedules anything
    assert nothing_to_take(consumer)


def test_sqlite_immediate_retry_and_stale_ack(sqlite_broker: SQLiteBroker) -> None:
    sqlite_broker.enqueue(message("unit", "x"))
    consumer = sqlite_broker.consume("unit", prefetch=10, timeout=100)
    (first,) = take(consumer, 1)
    first.options["retries"] = 1
    sqlite_broker.enqueue(first, delay=0)

    (second,) = take(consumer, 1)  # claimed again before the first delivery is acked
    consumer.ack(first)
    assert sqlite_broker.pending("unit") == 1  # still running as the second delivery
    assert second.options["retries"] == 1
    consumer.nack(second)
    assert sqlite_broker.pending("unit") == 0
    assert [m.options["retries"] for m in sqlite_broker.dead_letters("unit")] == [1]


def test_sqlite_purge_dead_letters_and_dedupe_window(sqlite_broker: SQLiteBroker) -> None:
    done, dead = (sqlite_broker.enqueue(message("unit", i)) for i in range(2))
    consumer = sqlite_broker.consume("unit", prefetch=10, timeout=100)
    first, second = take(consumer, 2)
    consumer.ack(first)
    consumer.nack(second)

    assert [m.message_id for m in sqlite_broker.dead_letters()] == [dead.message_id]
    assert sqlite_broker.purge(older_than_ms=60_000) == 0
    assert sqlite_broker.purge(older_than_ms=0) == 2
    assert sqlite_broker.dead_letters() == []

    # Purged ids are forgotten: a re-send after the retention window runs again.
    sqlite_broker.enqueue(Message(**done.asdict()))
    (again,) = take(consumer, 1)
    assert again.message_id == done.message_id


def test_sqlite_reaper_requeues_a_silent_workers_messages(tmp_path: Path) -> None:
    path = str(tmp_path / "queue.sqlite3")
    silent = SQLiteBroker(path, heartbeat_timeout=300, heartbeat_interval=50)
    survivor = SQLiteBroker(path, heartbeat_timeout=300, heartbeat_interval=50)
    silent.enqueue(message("unit", "x"))
    silent_consumer = silent.consume("unit", prefetch=1, timeout=100)
    (lost,) = take(silent_consumer, 1)

    # `silent` never polls again, so its heartbeat ages; the survivor's maintenance reaps it.
    survivor_consumer = survivor.consume("unit", prefetch=1, timeout=100)
    (found,) = take(survivor_consumer, 1)
    assert found.message_id == lost.message_id

    silent_consumer.ack(lost)  # a late ack of the reaped delivery changes nothing
    assert survivor.pending("unit") == 1
    survivor_consumer.ack(found)
    assert survivor.pending("unit") == 0
    silent.close()
    survivor.close()


# -- A worker runs the broker's messages --------------------------------------------------------


def test_delayed_message_survives_restart(target: Target) -> None:
    delay = 1500
    producer = make_broker(target.url())
    sent_at = current_millis()
    sent = producer.enqueue(message("delayed", "k", actor_name="delayed_probe"), delay=delay)
    producer.close()
    del producer

    broker = make_broker(target.url())
    runs: list[int] = []

    @dramatiq.actor(broker=broker, actor_name="delayed_probe", queue_name="delayed")
    def delayed_probe(key: str) -> None:
        runs.append(current_millis())

    with in_process_worker(broker):
        wait_until(lambda: runs, timeout=15, what="the delayed message to run")
        broker.join("delayed", timeout=5000)
    assert len(runs) == 1, sent.message_id
    assert runs[0] >= sent_at + delay, "ran before its delay"


def test_retries_then_dead_letter(target: Target) -> None:
    broker = make_broker(target.url())
    attempts: list[int] = []

    @dramatiq.actor(
        broker=broker, queue_name="failing", max_retries=2, min_backoff=10, max_backoff=50
    )
    def always_fails() -> None:
        attempts.append(current_millis())
        raise RuntimeError("always fails")

    sent = always_fails.send()
    with in_process_worker(broker):
        broker.join("failing", timeout=20_000)
        assert target.dead_letter_ids(broker, "failing") == [sent.message_id]
    assert len(attempts) == 3  # the first run and two retries


# -- Real `dramatiq` worker processes ------------------------------------------------------------


class Workers:
    """`dramatiq tests.support.broker_actors` subprocesses, each in its own process group (the
    CLI forks its worker processes), logging to files under tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.record = tmp_path / "record.txt"
        self.record.touch()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, url: str, *, threads: int = 1) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    str(DRAMATIQ),
                    "tests.support.broker_actors",
                    *("--processes", "1", "--threads", str(threads)),
                    *("--worker-shutdown-timeout", "5000"),
                ],
                cwd=ROOT,
                env={**os.environ, "LTC_BROKER_URL": url, "LTC_TEST_RECORD": str(self.record)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def ready(self, proc: subprocess.Popen[bytes]) -> bool:
        log = self.logs[self.procs.index(proc)]
        return b"Worker process is ready for action" in log.read_bytes()

    def signal(self, proc: subprocess.Popen[bytes], signum: int) -> None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    def events(self) -> list[tuple[str, str, int]]:
        lines = self.record.read_text().splitlines()
        return [(event, key, int(pid)) for event, key, pid in (line.split() for line in lines)]

    def describe(self) -> str:
        """Record and log tails, for failure messages."""
        parts = [f"record: {self.events()[-20:]}"]
        parts += [f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs]
        return "\n".join(parts)

    def stop_all(self) -> None:
        # SIGTERM to the CLI alone: it forwards it, and a worker process that receives a
        # second SIGTERM exits abruptly instead of shutting down.
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.signal(proc, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


def tracked(key: str, seconds: float) -> Message:
    """A message for tests.support.broker_actors.tracked."""
    return message("tracked", key, seconds, actor_name="tracked")


@pytest.mark.slow
def test_kill_9_mid_job_loses_nothing(target: Target, workers: Workers) -> None:
    url = target.url(fast_reaper=True)
    producer = make_broker(url)
    producer.enqueue(tracked("job", 2.0))

    first = workers.start(url)
    wait_until(
        lambda: workers.events(), timeout=30, what="the job to start", context=workers.describe
    )
    workers.signal(first, signal.SIGKILL)  # the whole group: CLI and its worker process
    first.wait(timeout=10)

    workers.start(url)
    wait_until(
        lambda: any(event == "end" for event, _, _ in workers.events()),
        timeout=30,
        what="a second worker to finish the job",
        context=workers.describe,
    )
    producer.join("tracked", timeout=10_000)
    events = workers.events()
    assert [(e, k) for e, k, _ in events] == [("start", "job"), ("start", "job"), ("end", "job")]
    (_, _, killed_pid), (_, _, second_pid), (_, _, finished_pid) = events
    assert killed_pid != second_pid == finished_pid
    producer.close()


@pytest.mark.slow
def test_two_workers_never_run_a_message_twice(target: Target, workers: Workers) -> None:
    url = target.url()
    procs = [workers.start(url, threads=4) for _ in range(2)]
    wait_until(
        lambda: all(workers.ready(p) for p in procs),
        timeout=30,
        what="both workers to boot",
        context=workers.describe,
    )

    producer = make_broker(url)
    # 8 s of jobs: one worker alone would need 2 s, more than the other's longest idle poll
    # (1 s on Redis), so both must take part.
    keys = [f"m{i}" for i in range(400)]
    for key in keys:
        producer.enqueue(tracked(key, 0.02))
    producer.join("tracked", timeout=60_000)
    producer.close()

    # Line order is event order, so each key must read exactly start, end: it ran once, and no
    # second run started while another was in progress.
    runs: dict[str, list[str]] = {key: [] for key in keys}
    pids = set()
    for event, key, pid in workers.events():
        runs[key].append(event)
        pids.add(pid)
    bad = {key: events for key, events in runs.items() if events != ["start", "end"]}
    assert not bad, workers.describe()
    assert len(pids) == 2, "both workers should have taken part"


# The production brokers' own tests belong to the production pass (the one naming a Redis
# broker); the embedded SQLite pass clears LTC_TEST_BROKER_URL and leaves them out.
SHIPPED_BROKERS = ["redis", "rabbitmq"] if os.environ.get("LTC_TEST_BROKER_URL") else []


@pytest.fixture(params=SHIPPED_BROKERS)
def shipped_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A production broker's URL without any query-string tuning, emptied before and after."""
    if request.param == "redis":
        url = os.environ["LTC_TEST_BROKER_URL"]
        if not url.startswith(("redis://", "rediss://")):
            pytest.fail("LTC_TEST_BROKER_URL must be a redis:// URL")
        client = redis.Redis.from_url(split_options(url)[0])
        client.flushdb()
        yield split_options(url)[0]
        client.flushdb()
        client.close()
        return
    url = os.environ.get("LTC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    if not broker_reachable(url):
        unavailable(f"RabbitMQ is not reachable at {url}")

    def empty() -> None:
        broker = make_broker(url)
        broker.declare_queue("tracked")
        broker.flush("tracked")
        broker.close()

    empty()
    yield url
    empty()


@pytest.mark.slow
def test_killed_workers_job_runs_again_within_a_minute_by_default(
    shipped_url: str, workers: Workers
) -> None:
    producer = make_broker(shipped_url)
    producer.enqueue(tracked("job", 1.0))
    first = workers.start(shipped_url)
    wait_until(
        lambda: workers.events(), timeout=30, what="the job to start", context=workers.describe
    )
    workers.signal(first, signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.monotonic()

    workers.start(shipped_url)
    wait_until(
        lambda: [e for e, _, _ in workers.events()] == ["start", "start"],
        timeout=RECOVERY_BOUND,
        what="a second worker to run the job again",
        context=workers.describe,
    )
    # Reported by `pytest -s`, for the README's measured times; only the bound is asserted.
    print(f"\n{shipped_url.split(':')[0]}: the job ran again "
          f"{time.monotonic() - killed_at:.1f} s after kill -9")
    wait_until(
        lambda: len(workers.events()) == 3, timeout=10, what="the job to finish",
        context=workers.describe,
    )
    (_, _, killed_pid), (_, _, second_pid), (event, _, finished_pid) = workers.events()
    assert event == "end" and killed_pid != second_pid == finished_pid
    producer.join("tracked", timeout=10_000)
    producer.close()


def test_redis_maintenance_interval_must_leave_room_for_missed_beats() -> None:
    with pytest.raises(ValueError):
        make_broker("redis://127.0.0.1:6379/9?heartbeat_timeout=10000&maintenance_interval=5000")
