"""The data layer: engine selection, the write-transaction helper and optimistic concurrency.

Every writing service function runs inside `write_transaction()`. On SQLite that is a
`BEGIN IMMEDIATE` transaction: with the default DEFERRED mode concurrent read-then-write
transactions fail with "database is locked" (measured: 19 of 20). On PostgreSQL it is an
ordinary transaction. Rows that two people may edit at once carry a `version` column; an
update is a compare-and-set on it (`update_versioned`), and a stale write raises `StaleWrite`,
which the web layer turns into HTTP 409.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg
from piccolo.columns import Column, Integer
from piccolo.columns.combination import Where, WhereRaw
from piccolo.engine import Engine, PostgresEngine, SQLiteEngine
from piccolo.engine.sqlite import TransactionType
from piccolo.table import Table

from ltc.settings import sqlite_path

SQLITE_BUSY_TIMEOUT_SECONDS = 30

_engine: Engine | None = None
# One engine per SQLite file in a process: Piccolo knows a transaction only through the engine
# that opened it. `ltc demo` runs the web app, the workers and the scheduler in one process,
# each binding at its start; a fresh engine bound while a job was inside a transaction sent
# the job's next query to a new connection, which waited out the busy timeout on the job's
# own lock (30 s with every writer stalled, the demo's first page included).
_sqlite_engines: dict[str, SQLiteEngine] = {}
_sqlite_engines_lock = threading.Lock()


class StaleWrite(Exception):
    """Someone else changed the row since it was read; reload and try again."""

    def __init__(self, table: str, pk: Any) -> None:
        self.table = table
        self.pk = pk
        super().__init__(f"{table} {pk} was changed by someone else")


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        path = sqlite_path(database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        enable_wal(str(path))  # again for a file deleted or restored since
        with _sqlite_engines_lock:  # two threads binding at once get the same engine
            if str(path) not in _sqlite_engines:
                _sqlite_engines[str(path)] = SQLiteEngine(
                    path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
            return _sqlite_engines[str(path)]
    return PostgresEngine(config={"dsn": database_url})


def enable_wal(path: str) -> None:
    """WAL is a property of the file: set once, it stays. Readers then never block the writer."""
    with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS) as connection:
        set_wal(connection)


def set_wal(connection: sqlite3.Connection, seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS) -> None:
    """Switch a connection's file to WAL. The switch needs an exclusive lock and SQLite's busy
    timeout does not always wait for it: two processes opening a new file at once saw
    "database is locked" (a CI run of the two-worker broker test). So retry, briefly."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def all_tables() -> list[type[Table]]:
    """Every Piccolo table class defined so far, ours and Piccolo's own (e.g. its migrations)."""
    found: list[type[Table]] = []
    stack = list(Table.__subclasses__())
    while stack:
        table = stack.pop()
        found.append(table)
        stack.extend(table.__subclasses__())
    return found


def bind(engine: Engine) -> None:
    """Point every table, and Piccolo's migration machinery, at `engine`.

    Piccolo resolves a table's engine once, from piccolo_conf.DB, and caches it; tests give
    each test its own database, so they rebind here.
    """
    global _engine
    from ltc import piccolo_conf

    _engine = engine
    piccolo_conf.DB = engine
    for table in all_tables():
        table._meta.db = engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("no database bound; call ltc.db.bind(make_engine(url)) first")
    return _engine


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One transaction for a state change, its audit event and its outbox rows.

    Nested use joins the outer transaction, so a service may call another service.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        transaction = db.transaction(
            transaction_type=TransactionType.immediate, allow_nested=True
        )
    else:
        transaction = db.transaction(allow_nested=True)
    async with transaction:
        yield


async def update_versioned(
    table: type[Table], pk: Any, expected_version: int, values: dict[Any, Any]
) -> dict[str, Any]:
    """Compare-and-set update: applies `values` only if the row still has `expected_version`.

    Returns the updated row; raises StaleWrite when the row changed (or vanished) meanwhile.
    """
    version: Integer = table.version  # type: ignore[attr-defined]
    rows = await (
        table.update({**values, version: version + 1})
        .where((table._meta.primary_key == pk) & (version == expected_version))
        .returning(*table.all_columns())
    )
    if not rows:
        raise StaleWrite(table._meta.tablename, pk)
    return rows[0]


async def start_pool(size: int) -> None:
    """PostgreSQL pools belong to one event loop: call this on the loop that will use it.

    Size 0 means no pool (a connection per query), for code that spans event loops.
    """
    db = engine()
    if isinstance(db, PostgresEngine) and size > 0:
        await db.start_connection_pool(min_size=1, max_size=size)


async def close_pool() -> None:
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        await db.close_connection_pool()


UNIQUE_VIOLATIONS = (sqlite3.IntegrityError, asyncpg.UniqueViolationError)


def is_unique_violation(exc: BaseException) -> bool:
    """A UNIQUE constraint refused the write (two requests raced to create one thing)."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


def contains(column: Column, text: str) -> Where:
    """Case-insensitive substring match: ILIKE on PostgreSQL; LIKE on SQLite, where it is
    already case-insensitive for ASCII (and Piccolo warns on ILIKE). `%` and `_` typed by a
    user act as wildcards: harmless in a search box, and SQLite has no default LIKE escape."""
    pattern = f"%{text}%"
    return column.like(pattern) if is_sqlite() else column.ilike(pattern)


async def next_daily_number(column: Column, prefix: str, day: date) -> str:
    """The next document number `prefix + yyyymmdd + 4-digit sequence` (SQ202611220001) for
    the table of `column`; call inside a write transaction. On PostgreSQL numbering is
    serialised per table on an advisory lock (SQLite's IMMEDIATE transaction already
    serialises writers). Beyond 9999 a day simply gets more digits."""
    table = column._meta.table
    if not is_sqlite():
        key = zlib.crc32(table._meta.tablename.encode())
        await table.raw(f"SELECT pg_advisory_xact_lock({key})")
    stem = f"{prefix}{day:%Y%m%d}"
    # Rows are never deleted, so the count is the last sequence; the loop only guards
    # against numbers made some other way (imports, hand edits).
    sequence = await table.count().where(column.like(stem + "%")) + 1
    while await table.exists().where(column == f"{stem}{sequence:04d}"):
        sequence += 1
    return f"{stem}{sequence:04d}"


def ids_in(column: Column, ids: list[int]) -> WhereRaw:
    """`column IN (1, 2, …)` for a batch of integer ids, written inline. Piccolo's `is_in`
    converts every value in Python (about 8 µs each: 13 of the 47 s of re-grading a million
    assessments, bench/ruleset_impact.py); ids are forced through int(), so nothing but
    digits reaches the SQL."""
    if not ids:
        return WhereRaw("1 = 0")
    table = column._meta.table._meta.tablename
    return WhereRaw(f'"{table}"."{column._meta.db_column_name}" IN '
                    f"({','.join(str(int(i)) for i in ids)})")
