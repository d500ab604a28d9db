"""Queue throughput: trivial jobs per second through the embedded SQLite broker and Redis.

    .venv/bin/python bench/queue.py [--jobs 5000] [--threads 8] [--redis URL] [--only sqlite|redis]

For each broker: enqueue N messages for a no-op actor, start `dramatiq bench.queue
--processes 2` (two worker processes, 8 threads each, Dramatiq's default), and time from the
first message taken until the queue is empty. The wall time including worker boot is printed
too. The SQLite queue is a fresh temporary file. The Redis database (redis://127.0.0.1:6379/14,
or LTC_BENCH_REDIS_URL, or --redis) is FLUSHED before and after.

Imported as `bench.queue` by the worker processes, this module installs the broker named by
LTC_BROKER_URL and declares the no-op actor.
"""

import os
import sys

if __name__ == "__main__":
    # Run as a script, bench/ is sys.path[0] and this file would shadow the standard `queue`
    # module that Dramatiq imports. Import from the repository root instead.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import platform
import resource
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.message import Message

from ltc.jobs.broker import install_broker, make_broker
from ltc.jobs.sqlite_broker import SQLiteBroker

ROOT = Path(__file__).resolve().parents[1]
QUEUE = "bench"


def pending(broker: dramatiq.Broker) -> int:
    if isinstance(broker, SQLiteBroker):
        return broker.pending(QUEUE)
    assert isinstance(broker, RedisBroker)
    return broker.do_qsize(QUEUE)


def run(url: str, jobs: int, threads: int) -> float:
    """Jobs per second from the first message taken to an empty queue; prints details."""
    broker = make_broker(url)
    for _ in range(jobs):
        broker.enqueue(Message(queue_name=QUEUE, actor_name="noop", args=(), kwargs={}, options={}))
    assert pending(broker) == jobs

    env = {**os.environ, "LTC_BROKER_URL": url}
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("dramatiq")), "bench.queue", "--processes", "2",
         "--threads", str(threads)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = None
        while (left := pending(broker)) > 0:
            if first is None and left < jobs:
                first = time.monotonic()
            if time.monotonic() - started > 300:
                raise SystemExit(f"{url}: {left} jobs left after 300 s")
            time.sleep(0.005)
        done = time.monotonic()
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        broker.close()
    assert first is not None
    # CPU time of the worker processes (boot and shutdown included): about 2 s per second of
    # wall time means both CPUs were busy running them.
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
    rate = jobs / (done - first)
    print(
        f"{url.split(':')[0]:>6}, {threads} threads: {jobs} jobs in {done - first:.2f} s"
        f" = {rate:,.0f} jobs/s"
        f" (wall time with worker boot {done - started:.2f} s, worker CPU {cpu:.2f} s)"
    )
    return rate


def machine() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs, {memory_gib:.1f} GiB RAM, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, Dramatiq {dramatiq.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument(
        "--redis", default=os.environ.get("LTC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument("--only", choices=["sqlite", "redis"])
    parser.add_argument("--threads", type=int, default=8, help="per worker process (default 8,"
                        " Dramatiq's; prefetch is twice this)")
    args = parser.parse_args()
    print(machine())

    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/queue.sqlite3", args.jobs, args.threads)
    if args.only in (None, "redis"):
        client = redis.Redis.from_url(args.redis)
        client.flushdb()
        try:
            run(args.redis, args.jobs, args.threads)
        finally:
            client.flushdb()


if __name__ == "__main__":
    main()
else:
    install_broker(os.environ["LTC_BROKER_URL"])

    @dramatiq.actor(queue_name=QUEUE, max_retries=0)
    def noop() -> None:
        """The trivial job."""
