"""A policy sandbox replay of a month beside the real computation (issue 18). Target: the
replay (lines into the scratch table, the people who differ, the totals by town and benefit)
takes < 2 × the real computation of the same month.

    .venv/bin/python -m bench.sandbox [--engine pg|sqlite] [--beneficiaries N] [--skip-load]
        [--url URL]

Loads the region with bench/payout_data.py (its own database: ltc_bench_sandbox on
PostgreSQL, /tmp/ltc_bench_sandbox.sqlite3 on SQLite; --skip-load reuses it), makes and
computes the October 2026 batch with service.compute (timed), then replays the month twice
with ltc.payouts.sandbox (timed from the queued run to its result): under the version in
force (its totals must equal the batch's, nobody differs) and under a draft with the family
subsidy raised from 450 to 600 元 (every subsidised person differs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import datetime, timedelta

from bench.payout_data import MONTH, REGION, generate
from ltc import clock, db, schema
from ltc.accounts import service as accounts
from ltc.accounts.tables import User
from ltc.identity import SYSTEM
from ltc.payouts import sandbox, service
from ltc.payouts.tables import PayoutBatch
from ltc.policy import service as policies
from ltc.policy.rules import policy_as_json

DEFAULTS = {"pg": ("postgresql://postgres@127.0.0.1/ltc_bench_sandbox", 1_000_000),
            "sqlite": ("sqlite:////tmp/ltc_bench_sandbox.sqlite3", 50_000)}


async def _user(role: str):
    """A reviewer or admin for the runs (a run names who started it)."""
    username = f"bench_{role}"
    row = await User.select(User.id).where(User.username == username).first()
    if row is None:
        row = await accounts.create_user(
            SYSTEM, username=username, display_name=f"压测{role}", role=role,
            region_code=REGION, organisation_code=None, password="Bench-passw0rd-2026",
            password_iterations=1_000)
    return await accounts.actor_for_user(row["id"])


async def _replay(label: str, version_id: int, reviewer) -> tuple[float, dict]:
    t = time.perf_counter()
    run = await sandbox.start(reviewer, REGION, MONTH, version_id)
    result = await sandbox.replay(run["id"])
    elapsed = time.perf_counter() - t
    print(f"{label}: {elapsed:.1f} s — {result['line_count']:,} lines, gross "
          f"{result['gross_fen'] / 100:,.2f} 元 (real {result['real_gross_fen'] / 100:,.2f} 元),"
          f" {result['people_changed']:,} people differ, "
          f"{len(json.loads(result['summary']))} town × benefit rows")
    return elapsed, result


async def measure(url: str) -> None:
    db.bind(db.make_engine(url))
    await schema.migrate()
    existing = await PayoutBatch.select().where(PayoutBatch.month == MONTH).first()
    batch = existing or await service.create_batch(SYSTEM, REGION, MONTH)
    await PayoutBatch.raw("VACUUM ANALYZE" if not db.is_sqlite() else "ANALYZE")
    people = (await PayoutBatch.raw("SELECT COUNT(*) AS n FROM entitlement"))[0]["n"]
    print(f"{datetime.now(clock.CHINA):%Y-%m-%d %H:%M}  "
          f"{'SQLite' if db.is_sqlite() else 'PostgreSQL'}  {people:,} entitlements, batch "
          f"{batch['number']}; {os.cpu_count()} CPUs")
    t = time.perf_counter()
    computed = await service.compute(batch["id"])
    real = time.perf_counter() - t
    print(f"real computation: {real:.1f} s — {computed['line_count']:,} lines, gross "
          f"{computed['gross_fen'] / 100:,.2f} 元")
    reviewer, admin = await _user("reviewer"), await _user("admin")
    same, run = await _replay("replay, policy in force", computed["policy_version"], reviewer)
    equal = (run["gross_fen"], run["net_fen"], run["people_changed"]) == (
        computed["gross_fen"], computed["net_fen"], 0)
    print(f"  equals the real batch to the fen: {'yes' if equal else 'NO'}")
    in_force = await policies.policy_in_force(REGION, MONTH)
    # a reused database keeps earlier runs' drafts: each run's own day
    later = clock.today() + timedelta(
        days=400 + await policies.upcoming_version_count(clock.today()))
    draft = await policies.add_version(
        admin, REGION, later, {**policy_as_json(in_force.policy), "family_subsidy_fen": 60000},
        note="bench draft")
    raised, _ = await _replay("replay, draft subsidy 600 元", draft["id"], reviewer)
    print(f"replay / real computation: {same / real:.2f}× (in force), {raised / real:.2f}× "
          "(draft)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("pg", "sqlite"), default="pg")
    parser.add_argument("--url")
    parser.add_argument("--beneficiaries", type=int)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    url = args.url or DEFAULTS[args.engine][0]
    if not args.skip_load:
        t = time.perf_counter()
        asyncio.run(generate(url, args.beneficiaries or DEFAULTS[args.engine][1], 2))
        print(f"loaded in {time.perf_counter() - t:.0f} s")
    asyncio.run(measure(url))


if __name__ == "__main__":
    main()
