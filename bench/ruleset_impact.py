"""The impact of a ruleset change (改判影响, issue 12) over a whole pooling region. Target:
1,000,000 concluded assessments on PostgreSQL re-graded in < 60 s with < 500 MB peak memory.

    .venv/bin/python -m bench.ruleset_impact [--assessments N] [--skip-load] [--url URL]

Loads region 370983 (database ltc_bench_impact is dropped and recreated; --skip-load reuses
it): 95 % as many people as assessments, each with an application and a concluded assessment
graded by national-2021 version 1 (the rest of the assessments are a later, second conclusion
of some of them, so the dry run must count each person once), random item scores drawn with a
fixed seed and skewed towards disability as applicants are, and a decision and an entitlement
for every eligible grade. Then runs the real command in a child process,

    ltc ruleset impact --region 370983 --to national-2021@2 --csv /tmp/ltc_bench_impact.csv

and prints its output, the wall time and the child's peak RSS (getrusage RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import asyncpg

from bench.intake_data import migrated_with_clerk, recreate_database
from ltc import db
from ltc.assessments import bundled
from ltc.assessments.regrade import Regrader

DEFAULT_URL = "postgresql://postgres@127.0.0.1/ltc_bench_impact"
REGION = "370983"
SEED = 20261203
BATCH = 50_000


def random_scores(rng: random.Random, instrument) -> dict[str, int]:
    """One score set: an ADL 'severity' per person, so items hang together like a real form."""
    ability = rng.random() ** 1.6  # skewed towards low ability: applicants are disabled
    scores = {}
    for item in instrument.items:
        options = sorted(item.scores)
        if item.indicator == "adl":
            centre = ability * (len(options) - 1)
        else:
            centre = (0.35 + 0.65 * ability) * (len(options) - 1)
        index = round(min(len(options) - 1, max(0, rng.gauss(centre, 0.9))))
        scores[item.code] = options[index]
    return scores


async def generate(url: str, assessments: int) -> None:
    started = time.monotonic()
    await recreate_database(url)
    clerk = await migrated_with_clerk(url, REGION)
    people = assessments * 95 // 100
    connection = await asyncpg.connect(url)
    region = await connection.fetchval("SELECT path FROM region WHERE code = $1", REGION)
    villages = await connection.fetch(
        "SELECT id, path FROM region WHERE level = 'village' AND path LIKE $1 ORDER BY code",
        region + "/%")
    ruleset = await connection.fetchval(
        "SELECT id FROM ruleset WHERE code = 'national-2021' AND version = 1")
    policy = await connection.fetchval(
        "SELECT p.id FROM policy_version p JOIN region r ON r.id = p.region WHERE r.code = $1 "
        "ORDER BY p.effective_from DESC LIMIT 1", REGION)
    nv = len(villages)
    await connection.execute("CREATE TEMP TABLE bench_place (k int, id int, path text)")
    await connection.executemany("INSERT INTO bench_place VALUES ($1, $2, $3)",
                                 [(k, v["id"], v["path"]) for k, v in enumerate(villages)])
    await connection.execute(f"""
        INSERT INTO person (resident_id, name, name_initials, sex, birth_date, phone, address,
            village, region_path, created_at, version)
        SELECT '3709' || lpad(s.n::text, 14, '0'), '压测' || s.n, 'yc',
               CASE WHEN s.n % 2 = 0 THEN 'F' ELSE 'M' END,
               DATE '1928-01-01' + (s.n * 79 % 14600), '13800000000', s.n || '号', v.id, v.path,
               now(), 1
        FROM generate_series(1, {people}) s(n) JOIN bench_place v ON v.k = s.n * 7 % {nv}
        ORDER BY s.n""")
    first_person = await connection.fetchval("SELECT MIN(id) FROM person")
    # Application k belongs to person (k - 1) % people: the last 5 % are second applications.
    await connection.execute(f"""
        INSERT INTO application (number, person, region_path, state, applicant_name,
            applicant_relation, applicant_phone, disabled_since, created_by, created_at)
        SELECT 'SQB' || lpad(s.n::text, 12, '0'), p.id, p.region_path, 'CLOSED', '家属', '子女',
               '13900000000', DATE '2024-01-01', {clerk}, now()
        FROM generate_series(1, {assessments}) s(n)
        JOIN person p ON p.id = {first_person} + (s.n - 1) % {people} ORDER BY s.n""")
    applications = await connection.fetch(
        "SELECT id, region_path FROM application WHERE number LIKE 'SQB%' ORDER BY id")
    print(f"{people:,} people, {assessments:,} applications in {time.monotonic() - started:.1f} s")

    t = time.monotonic()
    instrument = bundled.load_instrument()
    first = Regrader(bundled.load_ruleset("national-2021@1"), instrument)
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    columns = ["application", "region_path", "kind", "state", "assessor_1", "assessor_2",
               "draw", "scores", "ruleset", "result", "grade", "concluded_at", "created_at",
               "return_reason", "version"]
    for start in range(0, len(applications), BATCH):
        records = []
        for application in applications[start:start + BATCH]:
            scores = random_scores(rng, instrument)
            grade = first.grade(scores)
            records.append((application["id"], application["region_path"], "initial",
                            "CONCLUDED", clerk, clerk, "{}", json.dumps(scores), ruleset,
                            json.dumps({"grade": grade, "ruleset": "national-2021@1"}), grade,
                            now, now, "", 1))
        await connection.copy_records_to_table("assessment", records=records, columns=columns)
    print(f"{assessments:,} concluded assessments in {time.monotonic() - t:.1f} s")

    t = time.monotonic()
    await connection.execute(f"""
        INSERT INTO decision (number, application, assessment, person, region_path, grade,
            eligible, basis, decided_on, policy_version, created_at)
        SELECT 'JDB' || lpad(s.id::text, 12, '0'), s.application, s.id, a.person,
               s.region_path, s.grade, s.grade >= 3, 'no_objection', DATE '2025-06-20',
               {policy}, now()
        FROM assessment s JOIN application a ON a.id = s.application ORDER BY s.id""")
    await connection.execute(f"""
        INSERT INTO entitlement (decision, person, region_path, grade, starts_on, expires_on,
            end_reason, state, policy_version, created_at, version)
        SELECT d.id, d.person, d.region_path, d.grade, DATE '2025-07-01', DATE '2027-06-30',
               '', 'ACTIVE', {policy}, now(), 1
        FROM decision d WHERE d.eligible ORDER BY d.id""")
    await connection.execute("ANALYZE")
    await connection.close()
    await db.close_pool()
    print(f"decisions and entitlements in {time.monotonic() - t:.1f} s; "
          f"generated in {time.monotonic() - started:.1f} s")


def run_command(url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env.update(LTC_DATABASE_URL=url, LTC_SECRET_KEY="bench-" + "x" * 40,
               LTC_BROKER_URL="redis://127.0.0.1:6379/15", LTC_DATABASE_POOL_SIZE="2")
    command = [sys.executable, "-m", "ltc.cli", "ruleset", "impact", "--region", REGION,
               "--to", "national-2021@2", "--csv", "/tmp/ltc_bench_impact.csv"]
    print("$ ltc " + " ".join(command[3:]))
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    print(result.stdout + result.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"exit {result.returncode}; wall {wall:.1f} s (process start included); "
          f"peak RSS of the command {peak:.0f} MiB")
    lines = sum(1 for _ in open("/tmp/ltc_bench_impact.csv", encoding="utf-8-sig")) - 1
    print(f"CSV rows: {lines:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assessments", type=int, default=1_000_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    print(f"{date.today().isoformat()} {os.cpu_count()} CPUs, {args.url}")
    if not args.skip_load:
        asyncio.run(generate(args.url, args.assessments))
    run_command(args.url)


if __name__ == "__main__":
    main()
