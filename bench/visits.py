"""Sustained visit logging through the HTTP API on PostgreSQL, with 2 app processes and
1,000,000 existing visits (issue 5). Targets: ≥ 300 visits/s, p99 < 150 ms.

    .venv/bin/python -m bench.visits_data          # once: the data set (about a minute)
    .venv/bin/python -m bench.visits [--url postgresql://postgres@127.0.0.1/ltc_bench_visits]
                                     [--seconds 30] [--concurrency 32] [--processes 2]

Starts `--processes` uvicorn processes (one port each) on the data set, issues a provider API
token, then keeps `--concurrency` clients posting new visits (each a fresh UUID, a random
beneficiary of the provider and a random staff member, dated today) for `--seconds` after a
short warm-up, and prints throughput and latency percentiles. Every posted visit goes through
the full service: validation, the flag rules (overlap, active day, plan, quota, agreements,
nurse-only, distance) and the audit log, in one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta

import asyncpg
import httpx

from bench.visits_data import PROVIDER_CODE, TOWN
from ltc import clock, db
from ltc.accounts import service as accounts
from ltc.identity import SYSTEM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _setup(url: str) -> tuple[str, list[int], list[int], list[str], int]:
    db.bind(db.make_engine(url))
    token, _ = await accounts.issue_token(SYSTEM, name="压测护理APP", role="provider",
                                          region_code=TOWN, organisation_code=PROVIDER_CODE)
    connection = await asyncpg.connect(url)
    people = [r["person"] for r in await connection.fetch(
        "SELECT person FROM care_plan WHERE state = 'ACTIVE'")]
    staff = [r["id"] for r in await connection.fetch(
        "SELECT u.id FROM ltc_user u JOIN organisation o ON o.id = u.organisation "
        "WHERE o.code = $1", PROVIDER_CODE)]
    items = json.loads(await connection.fetchval("SELECT items FROM care_plan LIMIT 1"))
    existing = await connection.fetchval("SELECT count(*) FROM visit")
    await connection.close()
    return token, people, staff, items, existing


def _body(rng: random.Random, people: list[int], staff: list[int], items: list[str]) -> bytes:
    now = clock.now().astimezone(clock.CHINA)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # Any 45 minutes of today that already ended (never in the future).
    span = max(int((now - day_start).total_seconds() // 60) - 50, 1)
    started = day_start + timedelta(minutes=rng.randrange(span))
    return json.dumps({
        "client_uuid": str(uuid.uuid4()), "person_id": rng.choice(people),
        "staff_id": rng.choice(staff), "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=45)).isoformat(), "items": items,
        "family_confirmed_by": "家属", "confirmation_code": "2468",
    }).encode()


async def _client(base: str, token: str, deadline: float, measure_from: float,
                  people: list[int], staff: list[int], items: list[str], seed: int,
                  latencies: list[float], errors: list[str]) -> None:
    rng = random.Random(seed)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while (now := time.monotonic()) < deadline:
            body = _body(rng, people, staff, items)
            started = time.perf_counter()
            response = await client.post("/api/v1/visits", content=body, headers=headers)
            elapsed = time.perf_counter() - started
            if now >= measure_from:
                if response.status_code == 201:
                    latencies.append(elapsed)
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")


def _start_servers(url: str, processes: int) -> list[tuple[subprocess.Popen, str]]:
    """One uvicorn process per port, the clients spread over them evenly. (With
    `uvicorn --workers 2` on one port, the keep-alive connections opened at the start were
    mostly accepted by one worker, which then did nearly all the work.)"""
    env = {**os.environ, "LTC_DATABASE_URL": url, "LTC_BROKER_URL": "redis://127.0.0.1:6379/14",
           "LTC_SECRET_KEY": "b" * 48, "LTC_VAR_DIR": tempfile.mkdtemp(prefix="ltc-bench-"),
           "LTC_DATABASE_POOL_SIZE": "10"}
    servers = []
    for _ in range(processes):
        port = _free_port()
        servers.append((subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "ltc.app:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
            env=env), f"http://127.0.0.1:{port}"))
    for _, base in servers:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            for other, _ in servers:
                other.kill()
            raise SystemExit("the app did not start")
    return servers


async def _load(bases: list[str], token: str, seconds: int, concurrency: int,
                people: list[int], staff: list[int],
                items: list[str]) -> tuple[list[float], list[str], int]:
    warm_up = 5
    start = time.monotonic()
    latencies: list[float] = []
    errors: list[str] = []
    await asyncio.gather(*[
        _client(bases[seed % len(bases)], token, start + warm_up + seconds, start + warm_up,
                people, staff, items, seed, latencies, errors) for seed in range(concurrency)])
    return sorted(latencies), errors, warm_up


async def _flagged(url: str, since_seconds: int) -> int:
    connection = await asyncpg.connect(url)
    flagged = await connection.fetchval(
        "SELECT count(*) FROM visit WHERE created_at > now() - $1::interval AND review = "
        "'flagged'", timedelta(seconds=since_seconds))
    await connection.close()
    return flagged


def run(url: str, seconds: int, concurrency: int, processes: int) -> None:
    token, people, staff, items, existing = asyncio.run(_setup(url))
    servers = _start_servers(url, processes)
    try:
        latencies, errors, warm_up = asyncio.run(
            _load([base for _, base in servers], token, seconds, concurrency, people, staff,
                  items))
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait(timeout=30)

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    flagged = asyncio.run(_flagged(url, seconds + warm_up + 60))
    print(f"machine: {os.cpu_count()} CPUs; {processes} app processes; {concurrency} clients; "
          f"{existing:,} visits before; {datetime.now(clock.CHINA):%Y-%m-%d %H:%M}")
    print(f"logged {len(latencies):,} visits in {seconds} s = {len(latencies) / seconds:.0f} "
          f"visits/s (errors: {len(errors)})")
    if latencies:
        print(f"latency ms: p50 {percentile(0.5):.1f}  p95 {percentile(0.95):.1f}  "
              f"p99 {percentile(0.99):.1f}  max {latencies[-1] * 1000:.1f}  "
              f"mean {statistics.fmean(latencies) * 1000:.1f}")
    print(f"flagged among the new visits: {flagged:,} (random staff and times overlap)")
    for error in errors[:5]:
        print("error:", error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/ltc_bench_visits")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    run(args.url, args.seconds, args.concurrency, args.processes)


if __name__ == "__main__":
    main()
