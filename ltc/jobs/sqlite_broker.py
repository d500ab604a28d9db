"""The embedded Dramatiq broker: messages live in a SQLite file of their own.

Built like the Redis broker and dramatiq-postgres, for one machine with no queue server.

One row per message id in `messages`, in one of four states::

    queued ──claim──▶ running ──ack───▶ done   (kept done_message_ttl: re-sends are ignored)
      ▲                 │ │
      │                 │ └──nack──▶ dead   (dead letter, kept dead_message_ttl, listable)
      └─────────────────┘
        requeue (worker shutdown), reaper (worker died), retry (enqueue carrying the lease)

Delays
    Dramatiq's other brokers park a delayed message on a delay queue `X.DQ`, and the worker
    holds it in memory until its `eta`. Here a delay is only `available_at` in the future on
    the canonical queue `X`, so it is on disk until it is due and survives a restart. No delay
    queues are declared, so workers start no consumers for them.

Claims and leases
    A consumer claims up to its free prefetch slots in one `BEGIN IMMEDIATE` transaction
    (`UPDATE … SET state='running' WHERE id IN (SELECT … LIMIT n) RETURNING …`), so two
    workers can never hold the same message. Each claim writes a random lease into the rows
    and into the delivered messages' options (`sqlite_lease`). ack, nack and requeue change a
    row only while it is still `running` under that lease: a late ack from a worker whose
    message was meanwhile reaped and claimed by another worker changes nothing.

Dedupe and retries
    `enqueue` inserts with `ON CONFLICT (message_id) DO NOTHING`: a message id that is already
    queued, running, done (until purged) or dead is not enqueued again. That is what the
    transactional outbox needs: after a relay crash it re-sends a message with the same id, and
    the job must not run twice.

    The Retries middleware re-enqueues the *same* message id. It does so in
    `after_process_message`, i.e. while the row is still `running` and *before* the worker
    thread acks (worker.py: `emit_after("process_message")`, then `post_process_message` in
    its `finally`). It passes the message proxy it was handed, which still carries the lease.
    An enqueue whose lease matches the running row therefore reschedules that row (`queued`,
    new data with the retry count, `available_at` = now + backoff, lease cleared) instead of
    being deduped, and the ack that follows finds no running row with its lease and is a
    no-op. When retries are exhausted Retries does not enqueue; it fails the message and the
    nack makes the row a dead letter. An outbox re-send is a fresh message without a lease,
    so it is ignored even while the original runs.

Heartbeats and the reaper
    Every broker instance that consumes has a worker id and upserts its row in `workers`
    every `heartbeat_interval` ms and inside every claim transaction (so a message is never
    claimed under a stale heartbeat). At the same interval each consuming process also runs
    maintenance: running messages of workers without a heartbeat for `heartbeat_timeout` ms
    go back to `queued` (so `kill -9` of a worker loses nothing; the message runs again
    elsewhere, at least once), and expired done and dead rows are deleted. Times are
    wall-clock milliseconds, since they must mean the same after a restart; a clock jump
    beyond `heartbeat_timeout` can make a live worker look dead, which re-runs its messages
    but loses none.

Durability
    WAL mode. Enqueue transactions commit with `synchronous=FULL`: once `enqueue` returns, the
    message survives power loss. Claims, acks and the rest commit with `NORMAL`: they survive a
    process crash; on power loss the last of them may roll back, which only re-runs a message.

Create the broker after forking (the dramatiq CLI imports it in each worker process):
SQLite connections must not cross a fork.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.common import compute_backoff, current_millis, q_name
from dramatiq.errors import ConnectionClosed, QueueJoinTimeout
from dramatiq.logging import get_logger
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from ltc.db import set_wal

#: The message option that carries the lease of a claimed message.
LEASE = "sqlite_lease"

DAY_MS = 86_400_000
#: Rows deleted per maintenance pass, so one pass never holds the write lock for long.
MAINTENANCE_BATCH = 1000

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    actor TEXT NOT NULL,
    data BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    available_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT,
    lease TEXT,
    enqueued_at INTEGER NOT NULL,
    claimed_at INTEGER,
    finished_at INTEGER
);
-- Partial indexes: the claim, reaper and retention queries name these states literally.
CREATE INDEX IF NOT EXISTS messages_ready
    ON messages (queue, available_at, id) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS messages_running ON messages (worker_id) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS messages_finished
    ON messages (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;
"""

HEARTBEAT = """
INSERT INTO workers (worker_id, heartbeat_at) VALUES (?, ?)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
"""

CLAIM = """
UPDATE messages
SET state = 'running', worker_id = :worker, lease = :lease, claimed_at = :now,
    attempts = attempts + 1
WHERE id IN (
    SELECT id FROM messages
    WHERE queue = :queue AND state = 'queued' AND available_at <= :now
    ORDER BY available_at, id LIMIT :limit
)
RETURNING id, available_at, data
"""

# Whether a claim could find anything: a plain read, so idle polling never takes the write lock.
READY = """
SELECT 1 FROM messages WHERE queue = ? AND state = 'queued' AND available_at <= ? LIMIT 1
"""

RESCHEDULE = """
UPDATE messages
SET state = 'queued', data = ?, available_at = ?, worker_id = NULL, lease = NULL,
    claimed_at = NULL
WHERE message_id = ? AND state = 'running' AND lease = ?
"""

INSERT = """
INSERT INTO messages (message_id, queue, actor, data, state, available_at, enqueued_at)
VALUES (?, ?, ?, ?, 'queued', ?, ?)
ON CONFLICT (message_id) DO NOTHING
"""

ACK = """
UPDATE messages SET state = 'done', finished_at = ?, lease = NULL
WHERE message_id = ? AND state = 'running' AND lease = ?
"""

NACK = """
UPDATE messages SET state = 'dead', data = ?, finished_at = ?, lease = NULL
WHERE message_id = ? AND state = 'running' AND lease = ?
"""

REQUEUE = """
UPDATE messages SET state = 'queued', worker_id = NULL, lease = NULL, claimed_at = NULL
WHERE message_id = ? AND state = 'running' AND lease = ?
"""

REAP = """
UPDATE messages SET state = 'queued', worker_id = NULL, lease = NULL, claimed_at = NULL
WHERE state = 'running'
  AND worker_id NOT IN (SELECT worker_id FROM workers WHERE heartbeat_at >= ?)
"""

EXPIRE = """
DELETE FROM messages WHERE id IN (
    SELECT id FROM messages WHERE finished_at < ? AND state = ? LIMIT ?
)
"""


class SQLiteBroker(dramatiq.Broker):
    """A Dramatiq broker storing its messages in the SQLite file `path` (see the module doc).

    Parameters (times in milliseconds):
      heartbeat_interval: how often a consuming process records its heartbeat and runs
        maintenance (reaper, retention).
      heartbeat_timeout: how long without a heartbeat before a worker counts as dead and its
        running messages are requeued. Longer than any pause of a live process.
      dead_message_ttl: how long dead letters are kept.
      done_message_ttl: how long done rows are kept, i.e. the dedupe window for re-sends.
      busy_timeout: how long to wait for SQLite's write lock before failing.
      poll_interval: the longest sleep of an idle consumer between polls (the latency of a
        message enqueued while its queue was idle).
    """

    def __init__(
        self,
        path: str,
        *,
        middleware: list[Middleware] | None = None,
        heartbeat_interval: int = 5_000,
        heartbeat_timeout: int = 60_000,
        dead_message_ttl: int = 7 * DAY_MS,
        done_message_ttl: int = 7 * DAY_MS,
        busy_timeout: int = 10_000,
        poll_interval: int = 250,
    ) -> None:
        if heartbeat_timeout <= 2 * heartbeat_interval:
            raise ValueError("heartbeat_timeout must exceed twice heartbeat_interval")
        super().__init__(middleware=middleware)
        self.path = str(path)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.dead_message_ttl = dead_message_ttl
        self.done_message_ttl = done_message_ttl
        self.busy_timeout = busy_timeout
        self.poll_interval = poll_interval
        self.queues: set[str] = set()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

        # One connection per thread: worker threads ack while the consumer thread claims.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._last_maintenance = 0

        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = self._connection()
        # Switching to WAL needs an exclusive lock, so it cannot run inside a transaction.
        set_wal(conn)
        # executescript() would commit on its own; run the DDL in one write transaction so
        # processes starting together don't trip over each other.
        with self._write() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    # -- Dramatiq's broker interface ------------------------------------------------------

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        return _SQLiteConsumer(self, q_name(queue_name), prefetch, timeout)

    def declare_queue(self, queue_name: str) -> None:
        if queue_name not in self.queues:
            self.emit_before("declare_queue", queue_name)
            self.queues.add(queue_name)
            self.emit_after("declare_queue", queue_name)

    def get_declared_queues(self) -> set[str]:
        return self.queues.copy()

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        """Store `message` on its canonical queue, due after `delay` ms.

        A message id already present is left alone, unless `message` is the running delivery
        itself (it carries that delivery's lease), which Retries reschedules.
        """
        options = dict(message.options)
        lease = options.pop(LEASE, None)
        # A message delayed by another broker may arrive with an eta; it is our available_at.
        eta = options.pop("eta", None)
        now = current_millis()
        if delay is not None:
            available_at = now + delay
        elif isinstance(eta, int | float):
            available_at = int(eta)
        else:
            available_at = now

        stored = Message(
            **{**message.asdict(), "queue_name": q_name(message.queue_name), "options": options}
        )
        data = stored.encode()
        self.logger.debug(
            "Enqueueing message %r on queue %r.", stored.message_id, stored.queue_name
        )
        self.emit_before("enqueue", stored, delay)
        with self._write(durable=True) as conn:
            rescheduled = lease is not None and (
                conn.execute(RESCHEDULE, (data, available_at, stored.message_id, lease)).rowcount
            )
            if not rescheduled:
                inserted = conn.execute(
                    INSERT,
                    (
                        stored.message_id,
                        stored.queue_name,
                        stored.actor_name,
                        data,
                        available_at,
                        now,
                    ),
                ).rowcount
                if not inserted:
                    self.logger.debug("Message %r is already stored.", stored.message_id)
        self.emit_after("enqueue", stored, delay)
        return stored

    def flush(self, queue_name: str) -> None:
        """Delete every message of the queue, whatever its state (done and dead included)."""
        with self._write() as conn:
            conn.execute("DELETE FROM messages WHERE queue = ?", (q_name(queue_name),))

    def flush_all(self) -> None:
        """Delete every message in the file, declared queue or not."""
        with self._write() as conn:
            conn.execute("DELETE FROM messages")

    def join(self, queue_name: str, *, interval: int = 100, timeout: int | None = None) -> None:
        """Wait until the queue has no queued (delayed included) or running messages.

        Raises:
          QueueJoinTimeout: when `timeout` ms pass first.
        """
        deadline = timeout is not None and time.monotonic() + timeout / 1000
        while self.pending(queue_name):
            if deadline and time.monotonic() >= deadline:
                raise QueueJoinTimeout(queue_name)
            time.sleep(interval / 1000)

    def close(self) -> None:
        """Close every thread's connection; later use opens new ones."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for conn in connections:
            conn.close()

    # -- Operations beyond Dramatiq's interface ---------------------------------------------

    def pending(self, queue_name: str) -> int:
        """The number of queued (delayed included) and running messages of the queue."""
        queue = q_name(queue_name)
        # Two counts, so that each one uses its partial index instead of scanning done rows.
        (count,) = (
            self._connection()
            .execute(
                "SELECT (SELECT count(*) FROM messages WHERE queue = ? AND state = 'queued')"
                " + (SELECT count(*) FROM messages WHERE state = 'running' AND queue = ?)",
                (queue, queue),
            )
            .fetchone()
        )
        return count

    def dead_letters(self, queue_name: str | None = None) -> list[Message]:
        """Dead-lettered messages, oldest first; options hold `retries` and `traceback`."""
        sql = "SELECT data FROM messages WHERE state = 'dead'"
        params: tuple[str, ...] = ()
        if queue_name is not None:
            sql += " AND queue = ?"
            params = (q_name(queue_name),)
        rows = self._connection().execute(sql + " ORDER BY finished_at, id", params)
        return [Message.decode(data) for (data,) in rows]

    def purge(self, older_than_ms: int) -> int:
        """Delete done and dead messages finished more than `older_than_ms` ago.

        Deleted done rows no longer dedupe re-sends of their id. Returns the number deleted.
        """
        cutoff = current_millis() - older_than_ms
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM messages WHERE finished_at <= ? AND state IN ('done', 'dead')",
                (cutoff,),
            ).rowcount

    # -- Internals shared with the consumer ---------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so every write
            # transaction takes the write lock up front and waits (busy timeout) instead of
            # failing when it would have to upgrade a read lock.
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout / 1000,
                isolation_level=None,
                check_same_thread=False,  # only so that close() may close it
            )
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        if durable:
            conn.execute("PRAGMA synchronous=FULL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            if durable:
                conn.execute("PRAGMA synchronous=NORMAL")

    def _claim(self, queue_name: str, limit: int) -> list[Message]:
        now = current_millis()
        if self._connection().execute(READY, (queue_name, now)).fetchone() is None:
            return []
        lease = secrets.token_hex(8)
        with self._write() as conn:
            conn.execute(HEARTBEAT, (self.worker_id, now))
            rows = conn.execute(
                CLAIM,
                {
                    "worker": self.worker_id,
                    "lease": lease,
                    "now": now,
                    "queue": queue_name,
                    "limit": limit,
                },
            ).fetchall()
        # RETURNING gives no order; hand messages out in queue order.
        rows.sort(key=lambda row: (row[1], row[0]))
        messages = []
        for _, _, data in rows:
            message = Message.decode(data)
            message.options[LEASE] = lease
            messages.append(message)
        return messages

    def _ack(self, message: MessageProxy) -> None:
        with self._write() as conn:
            conn.execute(ACK, (current_millis(), message.message_id, message.options[LEASE]))

    def _nack(self, message: MessageProxy) -> None:
        # Dead letters keep the final options (retries, traceback) for whoever inspects them.
        options = {k: v for k, v in message.options.items() if k != LEASE}
        data = Message(**{**message.asdict(), "options": options}).encode()
        with self._write() as conn:
            conn.execute(NACK, (data, current_millis(), message.message_id, message.options[LEASE]))

    def _requeue(self, messages: Iterable[Message | MessageProxy]) -> None:
        params = [(m.message_id, m.options[LEASE]) for m in messages]
        if params:
            with self._write() as conn:
                conn.executemany(REQUEUE, params)

    def _maintain(self) -> None:
        """Heartbeat, reaper and retention, at most once per heartbeat_interval per process."""
        now = current_millis()
        with self._lock:
            if now - self._last_maintenance < self.heartbeat_interval:
                return
            self._last_maintenance = now
        cutoff = now - self.heartbeat_timeout
        with self._write() as conn:
            conn.execute(HEARTBEAT, (self.worker_id, now))
            reaped = conn.execute(REAP, (cutoff,)).rowcount
            conn.execute("DELETE FROM workers WHERE heartbeat_at < ?", (cutoff,))
            for state, ttl in (("done", self.done_message_ttl), ("dead", self.dead_message_ttl)):
                conn.execute(EXPIRE, (now - ttl, state, MAINTENANCE_BATCH))
        if reaped:
            self.logger.warning("Requeued %d messages of workers without heartbeat.", reaped)


class _SQLiteConsumer(Consumer):
    """Claims batches of messages for one queue. Not thread-safe, like every Consumer, except
    that worker threads call ack/nack concurrently with the consumer thread's __next__."""

    def __init__(self, broker: SQLiteBroker, queue_name: str, prefetch: int, timeout: int):
        self.logger = get_logger(__name__, type(self))
        self.broker = broker
        self.queue_name = queue_name
        self.prefetch = prefetch
        self.timeout = timeout
        self.max_backoff = min(timeout, broker.poll_interval)
        self.misses = 0
        # Claimed but not yet handed to Dramatiq, and handed out but not yet acked.
        self.cache: deque[Message] = deque()
        self.outstanding: set[tuple[str, str]] = set()
        self.slot_freed = threading.Event()

    def ack(self, message: MessageProxy) -> None:
        self._settle(message, self.broker._ack)

    def nack(self, message: MessageProxy) -> None:
        self._settle(message, self.broker._nack)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        messages = list(messages)
        with _connection_errors():
            self.broker._requeue(messages)
        for message in messages:
            self._release(message)

    def close(self) -> None:
        # Messages claimed but never handed out go straight back instead of waiting for the
        # reaper to notice this worker is gone.
        cache, self.cache = list(self.cache), deque()
        with _connection_errors():
            self.broker._requeue(cache)

    def __next__(self) -> MessageProxy | None:
        with _connection_errors():
            self.broker._maintain()
            if not self.cache:
                self.slot_freed.clear()
                free = self.prefetch - len(self.outstanding)
                if free <= 0:
                    # Every prefetched message is still being processed: wait for an ack.
                    self.slot_freed.wait(self.timeout / 1000)
                    return None
                self.cache.extend(self.broker._claim(self.queue_name, free))
                if not self.cache:
                    self.misses, backoff = compute_backoff(
                        self.misses, max_backoff=self.max_backoff
                    )
                    time.sleep(backoff / 1000)
                    return None
        self.misses = 0
        message = self.cache.popleft()
        self.outstanding.add((message.message_id, message.options[LEASE]))
        return MessageProxy(message)

    def _settle(self, message: MessageProxy, settle: Callable[[MessageProxy], None]) -> None:
        try:
            with _connection_errors():
                settle(message)
        finally:
            self._release(message)

    def _release(self, message: Any) -> None:
        self.outstanding.discard((message.message_id, message.options[LEASE]))
        self.slot_freed.set()


@contextmanager
def _connection_errors() -> Iterator[None]:
    """SQLite's operational errors (locked, I/O) as Dramatiq's connection errors, which the
    worker retries instead of dropping the ack or crashing the consumer."""
    try:
        yield
    except sqlite3.OperationalError as e:
        raise ConnectionClosed(e) from e
