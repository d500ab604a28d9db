"""Sustained visit logging through the HTTP API on PostgreSQL, with 2 app processes and
1,000,000 existing visits (issue 5), against a minimal baseline endpoint.

    .venv/bin/python -m bench.visits_data          # once: the data set (about a minute)
    .venv/bin/python -m bench.visits [--url postgresql://postgres@127.0.0.1/ltc_bench_visits]
                                     [--seconds 10] [--rounds 3] [--concurrency 32]
                                     [--processes 2] [--count-statements N]

Starts `--processes` uvicorn processes (one port each) of the project's app and as many of
the baseline (bench/visits_baseline.py: the same visit row and the same audit row in one
transaction, nothing else), issues a provider API token, then for `--rounds` rounds loads
the project's endpoint and the baseline's in turn (A/B/A/B…): `--concurrency` clients post
new visits (each a fresh UUID, a random beneficiary of the provider and a random staff
member, dated today) for `--seconds` after a 2 s warm-up; the visits a round logged are
deleted after it, so every round starts from the same data. Prints each round, the means,
the ratio project/baseline, and the CPU each visit took in the app processes and in their
PostgreSQL backends (from /proc: steadier than throughput when other work shares the CPUs).
Every visit posted to the project goes through the full service: the token, validation,
the flag rules (overlap, active day, plan, quota, agreements, nurse-only, distance) and the
audit log, in one transaction.

`--count-statements N` instead counts the statements PostgreSQL runs for N sequential
visits on each endpoint (from its log, `--pg-log`, with log_statement = all set on the
bench database while the servers run).
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


def _start_servers(url: str, processes: int, factory: str,
                   extra_env: dict[str, str]) -> list[tuple[subprocess.Popen, str]]:
    """One uvicorn process per port, the clients spread over them evenly. (With
    `uvicorn --workers 2` on one port, the keep-alive connections opened at the start were
    mostly accepted by one worker, which then did nearly all the work.)"""
    env = {**os.environ, "LTC_DATABASE_URL": url, "LTC_BROKER_URL": "redis://127.0.0.1:6379/14",
           "LTC_SECRET_KEY": "b" * 48, "LTC_VAR_DIR": tempfile.mkdtemp(prefix="ltc-bench-"),
           "LTC_DATABASE_POOL_SIZE": "10", **extra_env}
    servers = []
    for _ in range(processes):
        port = _free_port()
        servers.append((subprocess.Popen(
            [sys.executable, "-m", "uvicorn", factory, "--factory", "--host",
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
            _stop(servers)
            raise SystemExit(f"{factory} did not start")
    return servers


def _stop(servers: list[tuple[subprocess.Popen, str]]) -> None:
    for server, _ in servers:
        server.terminate()
    for server, _ in servers:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


async def _load(bases: list[str], token: str, warm_up: int, seconds: int, concurrency: int,
                people: list[int], staff: list[int], items: list[str],
                seed: int) -> tuple[list[float], list[str]]:
    start = time.monotonic()
    latencies: list[float] = []
    errors: list[str] = []
    await asyncio.gather(*[
        _client(bases[n % len(bases)], token, start + warm_up + seconds, start + warm_up,
                people, staff, items, seed + n, latencies, errors)
        for n in range(concurrency)])
    return sorted(latencies), errors


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (Linux /proc), 0 for one that is gone."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


async def _backends(url: str) -> list[int]:
    """The PostgreSQL backends connected to the bench database (the app pools')."""
    connection = await asyncpg.connect(url)
    pids = [r["pid"] for r in await connection.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()")]
    await connection.close()
    return pids


async def _mark(url: str) -> int:
    connection = await asyncpg.connect(url)
    mark = await connection.fetchval("SELECT coalesce(max(id), 0) FROM visit")
    await connection.close()
    return mark


async def _undo(url: str, mark: int) -> tuple[int, int]:
    """Delete the visits a round logged (so every round starts from the same data: the
    overlap rule reads the staff member's visits of the day). Returns (logged, flagged).
    Their audit events stay (the chain is append-only)."""
    connection = await asyncpg.connect(url)
    logged, flagged = await connection.fetchrow(
        "SELECT count(*), count(*) FILTER (WHERE review = 'flagged') FROM visit WHERE id > $1",
        mark)
    # Without its foreign-key triggers (bench database, superuser): the self-reference
    # revision_of has no index, and checking it scans the table for every row deleted.
    async with connection.transaction():
        await connection.execute("SET LOCAL session_replication_role = replica")
        await connection.execute("DELETE FROM visit WHERE id > $1", mark)
    await connection.close()
    return logged, flagged


async def _provider(url: str) -> tuple[int, str]:
    connection = await asyncpg.connect(url)
    row = await connection.fetchrow(
        "SELECT o.id, r.path FROM organisation o JOIN region r ON r.path LIKE '%/' || $2 "
        "WHERE o.code = $1", PROVIDER_CODE, TOWN)
    await connection.close()
    return row["id"], row["path"]


def _summary(name: str, latencies: list[float], seconds: float, errors: list[str]) -> float:
    rate = len(latencies) / seconds if seconds else 0.0

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    line = f"{name:>8}: {len(latencies):,} visits in {seconds:.0f} s = {rate:.0f} visits/s"
    if latencies:
        line += (f"; latency ms p50 {percentile(0.5):.1f} p95 {percentile(0.95):.1f} "
                 f"p99 {percentile(0.99):.1f} mean {statistics.fmean(latencies) * 1000:.1f}")
    print(line + f" (errors: {len(errors)})")
    for error in errors[:3]:
        print("   error:", error)
    return rate


_STATEMENT = ("LOG:  statement:", "LOG:  execute ")


async def _set_log_statement(url: str, value: str | None) -> None:
    database = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(url)
    if value is None:
        await connection.execute(f'ALTER DATABASE "{database}" RESET log_statement')
    else:
        await connection.execute(f"ALTER DATABASE \"{database}\" SET log_statement = '{value}'")
    await connection.close()


def _count_statements(url: str, log: str, visits: int, targets: dict[str, list[str]],
                      token: str, people: list[int], staff: list[int],
                      items: list[str]) -> None:
    """Statements PostgreSQL executed per visit (its log with log_statement = all, set on the
    bench database only while the servers run): `visits` sequential requests per endpoint,
    after one warm-up request each."""

    async def post(base: str, n: int, seed: int) -> None:
        rng = random.Random(seed)
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(n):
                response = await client.post("/api/v1/visits", headers=headers,
                                             content=_body(rng, people, staff, items))
                assert response.status_code == 201, response.text

    for name, bases in targets.items():
        asyncio.run(post(bases[0], 1, 7))
        time.sleep(0.5)
        with open(log, encoding="utf-8", errors="replace") as handle:
            handle.seek(0, 2)
            asyncio.run(post(bases[0], visits, 11))
            time.sleep(1.0)
            lines = handle.read().splitlines()
        statements = sum(1 for line in lines if any(mark in line for mark in _STATEMENT))
        print(f"{name:>8}: {statements} statements for {visits} visits = "
              f"{statements / visits:.1f} per visit")


def run(url: str, seconds: int, rounds: int, concurrency: int, processes: int,
        count: int, pg_log: str) -> None:
    token, people, staff, items, existing = asyncio.run(_setup(url))
    provider, region_path = asyncio.run(_provider(url))
    if count:
        asyncio.run(_set_log_statement(url, "all"))
    servers = {
        "project": _start_servers(url, processes, "ltc.app:create_app", {}),
        "baseline": _start_servers(url, processes, "bench.visits_baseline:create_app", {
            "BENCH_PROVIDER_ID": str(provider), "BENCH_REGION_PATH": region_path}),
    }
    bases = {name: [base for _, base in group] for name, group in servers.items()}
    totals: dict[str, list[float]] = {name: [] for name in servers}
    flagged_share: list[float] = []
    cpu_ms: dict[str, list[tuple[float, ...]]] = {name: [] for name in servers}
    warm_up = 2
    try:
        if count:
            mark = asyncio.run(_mark(url))
            _count_statements(url, pg_log, count, bases, token, people, staff, items)
            asyncio.run(_undo(url, mark))
            return
        print(f"machine: {os.cpu_count()} CPUs; {processes} app processes per endpoint; "
              f"{concurrency} clients; {existing:,} visits before; "
              f"{datetime.now(clock.CHINA):%Y-%m-%d %H:%M}; {rounds} rounds of {seconds} s "
              f"per endpoint, alternating")
        for round_no in range(rounds):
            for name in servers:
                mark = asyncio.run(_mark(url))
                app_pids = [server.pid for server, _ in servers[name]]
                backends = asyncio.run(_backends(url))
                cpu = _cpu_seconds(app_pids), _cpu_seconds(backends)
                latencies, errors = asyncio.run(_load(
                    bases[name], token, warm_up, seconds, concurrency, people, staff, items,
                    seed=round_no * 1000))
                backends = sorted(set(backends) | set(asyncio.run(_backends(url))))
                totals[name].append(_summary(f"{name} {round_no + 1}", latencies, seconds,
                                             errors))
                logged, flagged = asyncio.run(_undo(url, mark))
                if logged:
                    used = (_cpu_seconds(app_pids) - cpu[0], _cpu_seconds(backends) - cpu[1])
                    cpu_ms[name].append(tuple(1000 * u / logged for u in used))
                if name == "project":
                    flagged_share.append(flagged / logged if logged else 0.0)
    finally:
        for group in servers.values():
            _stop(group)
        if count:
            asyncio.run(_set_log_statement(url, None))
    means = {name: statistics.fmean(rates) for name, rates in totals.items()}
    for name, mean in means.items():
        print(f"{name:>8}: mean {mean:.0f} visits/s over {rounds} rounds "
              f"({', '.join(f'{r:.0f}' for r in totals[name])})")
    print(f"ratio project/baseline: {means['project'] / means['baseline']:.2f}")
    for name, figures in cpu_ms.items():
        if figures:
            app, database = (statistics.fmean(f[i] for f in figures) for i in (0, 1))
            print(f"{name:>8}: CPU per visit (warm-up included) {app:.2f} ms in the app "
                  f"processes, {database:.2f} ms in their PostgreSQL backends")
    print(f"flagged among the project's new visits: {statistics.fmean(flagged_share):.0%} "
          "(random staff and times overlap); each round's visits deleted after it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/ltc_bench_visits")
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--count-statements", type=int, default=0, metavar="N",
                        help="instead: count the statements of N sequential visits per "
                             "endpoint in PostgreSQL's log (log_statement = all, set on the "
                             "bench database for the run)")
    parser.add_argument("--pg-log", default="/var/log/postgresql/postgresql-15-main.log")
    args = parser.parse_args()
    run(args.url, args.seconds, args.rounds, args.concurrency, args.processes,
        args.count_statements, args.pg_log)


if __name__ == "__main__":
    main()
