"""Decision events out: 10,000 events delivered to a local receiver.

    .venv/bin/python -m bench.events [--url sqlite:///var/bench_events.sqlite3
                                      | --url postgresql://ltc_ci:ltc_ci@127.0.0.1:5432/ltc_bench_events]
                                     [--events 10000] [--people 1000] [--workers 2]

A scratch database (the SQLite file is replaced; the PostgreSQL database is dropped and
created), one subscriber, and `--events` events emitted for `--people` people (each its own
stream, sequence 1, 2, … in order), 100 to a transaction. A receiver (uvicorn, a tiny ASGI
app on 127.0.0.1, in a thread of this process) answers 204 and checks every person's events
arrive in order. Then `--workers` delivery loops run at once (compare-and-set claims, each
up to LTC_EVENTS_CONCURRENCY requests at a time) until every delivery is delivered. Prints
events/s, p50/p95 of the HTTP attempt latency, and the total delivery time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import threading
import time
from pathlib import Path

import uvicorn

from bench.intake_data import recreate_database
from ltc import db, schema
from ltc.decision_events import delivery, service
from ltc.decision_events.interface import EventType, Subject, emit
from ltc.decision_events.tables import EventDelivery, EventDeliveryAttempt
from ltc.identity import SYSTEM
from ltc.settings import Settings

BATCH = 100


class Receiver:
    """Counts events and notes any person whose sequence arrives out of order."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.received = 0
        self.out_of_order = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        event = json.loads(body)
        who = event["subject"]["resident_id"]
        if event["sequence"] != self.last.get(who, 0) + 1:
            self.out_of_order += 1
        self.last[who] = event["sequence"]
        self.received += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def serve(app: Receiver) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           access_log=False, lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/events"


async def prepare(url: str, events: int, people: int, receiver_url: str) -> None:
    if not url.startswith("sqlite"):  # (the SQLite file was removed by main())
        await recreate_database(url)
    db.bind(db.make_engine(url))
    await schema.migrate()
    if not url.startswith("sqlite"):
        await db.start_pool(10)
    # The receiver listens on this machine, which subscribers may not name unless listed.
    os.environ.setdefault("LTC_EVENT_RECEIVER_HOSTS", "127.0.0.1")
    await service.create(SYSTEM, "压测接收方", receiver_url, [str(t) for t in EventType])
    for start in range(0, events, BATCH):
        async with db.write_transaction():
            for n in range(start, min(events, start + BATCH)):
                person = n % people
                await emit(EventType.entitlement_started,
                           Subject("person", str(person), {"resident_id": f"P{person:06d}",
                                                            "name": "压测"}), {"n": n})


async def run(url: str, events: int, people: int, workers: int) -> None:
    receiver = Receiver()
    receiver_url = serve(receiver)
    started = time.monotonic()
    await prepare(url, events, people, receiver_url)
    print(f"emitted {events} events for {people} people in {time.monotonic() - started:.1f} s")
    # Only the events settings matter here; the database is bound above.
    settings = Settings.from_env({k: v for k, v in os.environ.items()
                                  if k.startswith(("LTC_EVENTS_", "LTC_EVENT_RECEIVER_HOSTS"))})

    started = time.monotonic()
    while await EventDelivery.exists().where(EventDelivery.state != "delivered"):
        await asyncio.gather(*(delivery.deliver_until_idle(settings) for _ in range(workers)))
    elapsed = time.monotonic() - started
    durations = sorted(r["duration_ms"] for r in await EventDeliveryAttempt.select(
        EventDeliveryAttempt.duration_ms))
    attempts = len(durations)
    print(f"engine: {'SQLite' if url.startswith('sqlite') else 'PostgreSQL'}; "
          f"workers {workers} × concurrency {settings.events_concurrency}")
    print(f"delivered {receiver.received} (attempts {attempts}, out of order "
          f"{receiver.out_of_order}) in {elapsed:.1f} s: {events / elapsed:.0f} events/s")
    print(f"attempt latency p50 {statistics.median(durations):.0f} ms, "
          f"p95 {durations[int(attempts * 0.95) - 1]:.0f} ms")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}")
    if not url.startswith("sqlite"):
        await db.close_pool()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--url", default="sqlite:///var/bench_events.sqlite3")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.url.startswith("sqlite"):
        path = Path(args.url.removeprefix("sqlite:///")).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = args.url
    asyncio.run(run(url, args.events, args.people, args.workers))


if __name__ == "__main__":
    main()
