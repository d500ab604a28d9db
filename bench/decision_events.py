"""Publishing a city batch's payout.approved events (issue 17): emit_many for 100,000 payees
inside one write transaction, against emit() called once per payee.

    .venv/bin/python -m bench.decision_events [--engine pg|sqlite] [--payees N]
        [--subscribers 2] [--sample 2000] [--url URL]

A fresh database (PostgreSQL database ltc_bench_events dropped and recreated; SQLite file
/tmp/ltc_bench_events.sqlite3 replaced), migrated, with `--subscribers` subscribers that
chose payout.approved (each event gets a pending delivery for each). Times, each in its own
committed write transaction:

1. emit_many for N new payees (every event stream is new: the counter upsert inserts);
2. emit_many for the same N payees again, as next month's batch (the upsert updates);
3. emit() once per payee for `--sample` other payees, scaled to N for comparison.

Prints the rows written and whether every stream's sequence is 1 then 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import datetime
from pathlib import Path

from bench.intake_data import recreate_database
from ltc import clock, db, schema
from ltc.decision_events import interface as events
from ltc.decision_events.tables import DecisionEvent, EventDelivery, EventSubscriber

DEFAULTS = {"pg": "postgresql://ltc_ci:ltc_ci@127.0.0.1:5432/ltc_bench_events",
            "sqlite": "sqlite:////tmp/ltc_bench_events.sqlite3"}


def items(payees: range, month: str) -> list[tuple[events.Subject, dict]]:
    """What approve() publishes for a payee: a caregiver's key is a resident ID."""
    return [(events.payee_subject(f"cg:370983{n:012d}", f"护理人{n}"),
             {"batch_number": "JS370983202612", "month": month, "line_count": 1,
              "gross_fen": 45000, "withheld_fen": 0, "net_fen": 45000}) for n in payees]


async def timed(label: str, write, count: int) -> float:
    started = time.perf_counter()
    async with db.write_transaction():
        await write()
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.1f} s ({count / elapsed:,.0f} events/s)")
    return elapsed


async def measure(url: str, payees: int, subscribers: int, sample: int) -> None:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    else:
        await recreate_database(url)
    db.bind(db.make_engine(url))
    await schema.migrate()
    for n in range(subscribers):
        await EventSubscriber(name=f"订阅方{n + 1}", url=f"http://127.0.0.1:{9000 + n}/",
                              secret="s" * 32, event_types='["payout.approved"]').save()
    print(f"{datetime.now(clock.CHINA):%Y-%m-%d %H:%M}  "
          f"{'SQLite' if db.is_sqlite() else 'PostgreSQL'}; {payees:,} payees, "
          f"{subscribers} subscribers; {os.cpu_count()} CPUs")
    first = items(range(payees), "2026-12")
    await timed("emit_many, new streams", lambda: events.emit_many(
        events.EventType.payout_approved, first), payees)
    again = items(range(payees), "2027-01")
    await timed("emit_many, existing streams", lambda: events.emit_many(
        events.EventType.payout_approved, again), payees)
    others = items(range(payees, payees + sample), "2026-12")

    async def one_by_one() -> None:
        for subject, data in others:
            await events.emit(events.EventType.payout_approved, subject, data)

    elapsed = await timed(f"emit() once per payee, {sample:,} payees", one_by_one, sample)
    print(f"    scaled to {payees:,} payees: {elapsed * payees / sample:.0f} s")
    rows = await DecisionEvent.raw(
        "SELECT COUNT(*) AS n, MIN(sequence) AS low, MAX(sequence) AS high FROM decision_event "
        "WHERE body LIKE '%\"month\":\"2027-01\"%'")
    print(f"events {await DecisionEvent.count():,}, deliveries {await EventDelivery.count():,}; "
          f"next month's {rows[0]['n']:,} events all have sequence 2: "
          f"{rows[0]['low'] == rows[0]['high'] == 2}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("pg", "sqlite"), default="pg")
    parser.add_argument("--url")
    parser.add_argument("--payees", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=2_000)
    args = parser.parse_args()
    asyncio.run(measure(args.url or DEFAULTS[args.engine], args.payees, args.subscribers,
                        args.sample))


if __name__ == "__main__":
    main()
