"""Generate a care-delivery data set in PostgreSQL for bench/visits.py.

    .venv/bin/python -m bench.visits_data [--url postgresql://postgres@127.0.0.1/ltc_bench_visits]
                                          [--beneficiaries 20000] [--staff 200]
                                          [--visits 1000000]

Recreates the database, applies the migrations and reference data, then bulk-loads one
provider (a township health centre) with its agreement, `--staff` service staff with theirs,
`--beneficiaries` people each with a concluded assessment, a decision, an active entitlement
and an active home-care plan, and `--visits` past visits spread over the last 365 days, all
set-based (COPY and INSERT … SELECT). Deterministic except for the visits' UUIDs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg
from stdnum.cn.ric import calc_check_digit

from bench.intake_data import recreate_database
from ltc import db, reference, schema
from ltc.accounts import service as accounts
from ltc.identity import SYSTEM

PROVIDER_CODE = "BENCH-P-001"
TOWN = "370983001"
STARTS_ON = date(2025, 1, 1)
EXPIRES_ON = date(2026, 12, 31)


def _resident_id(seq: int) -> tuple[str, date]:
    birth = date(1930, 1, 1) + timedelta(days=seq % (365 * 60))
    body = f"370983{birth:%Y%m%d}{seq % 1000:03d}"
    return body + calc_check_digit(body + "0"), birth


async def generate(url: str, beneficiaries: int, staff: int, visits: int) -> dict:
    await recreate_database(url)
    db.bind(db.make_engine(url))
    await schema.migrate()
    await reference.load_reference_data()
    connection = await asyncpg.connect(url)
    town = await connection.fetchrow("SELECT id, path FROM region WHERE code = $1", TOWN)
    village = await connection.fetchrow(
        "SELECT id, path FROM region WHERE parent = $1 ORDER BY code LIMIT 1", town["id"])
    provider = await connection.fetchval(
        "INSERT INTO organisation (code, name, kind, region, active) "
        "VALUES ($1, '压测镇卫生院', 'provider', $2, true) RETURNING id",
        PROVIDER_CODE, town["id"])
    clerk = await accounts.create_user(
        SYSTEM, username="bench_clerk", display_name="压测经办员", role="clerk",
        region_code="370983", organisation_code=None, password="bench-pass-1",
        password_iterations=1000)
    started = time.monotonic()
    for n in range(staff):
        await accounts.create_user(
            SYSTEM, username=f"nurse{n:03d}", display_name=f"护理员{n:03d}", role="provider",
            region_code=TOWN, organisation_code=PROVIDER_CODE, password="bench-pass-1",
            password_iterations=1000)
    staff_ids = [r["id"] for r in await connection.fetch(
        "SELECT id FROM ltc_user WHERE organisation = $1 ORDER BY id", provider)]
    assessor = staff_ids[0]  # any user: the assessment rows only need two user ids

    policy = await connection.fetchval("SELECT id FROM policy_version ORDER BY id LIMIT 1")
    ruleset = await connection.fetchval("SELECT id FROM ruleset ORDER BY id LIMIT 1")
    definition = json.loads(await connection.fetchval(
        "SELECT definition FROM policy_version WHERE id = $1", policy))
    required = definition.get("care_required") or []
    now = datetime.now(UTC)

    await connection.execute(
        "INSERT INTO agreement (number, kind, region_path, organisation, home_visits, "
        "starts_on, ends_on, state, created_by) VALUES "
        "('XYBENCHP', 'provider', $1, $2, true, $3, $4, 'ACTIVE', $5)",
        town["path"], provider, STARTS_ON, EXPIRES_ON, clerk["id"])
    await connection.copy_records_to_table(
        "agreement", columns=["number", "kind", "region_path", "organisation", "staff",
                              "qualification", "starts_on", "ends_on", "state", "created_by"],
        records=[(f"XYBENCHS{i:04d}", "staff", town["path"], provider, staff_id,
                  "nurse" if i % 2 == 0 else "care_worker", STARTS_ON, EXPIRES_ON, "ACTIVE",
                  clerk["id"]) for i, staff_id in enumerate(staff_ids)])

    rng = random.Random(20261122)
    people = []
    for seq in range(1, beneficiaries + 1):
        rid, birth = _resident_id(seq)
        people.append((rid, f"压测{seq:06d}", "yc", "MF"[seq % 2], birth, "13800000000",
                       f"{seq}号", village["id"], village["path"], now, 1,
                       36.2 + rng.random() / 10, 116.7 + rng.random() / 10))
    await connection.copy_records_to_table(
        "person", records=people,
        columns=["resident_id", "name", "name_initials", "sex", "birth_date", "phone",
                 "address", "village", "region_path", "created_at", "version", "latitude",
                 "longitude"])
    # The chain every entitlement stands on, set-based: application → assessment → decision.
    await connection.execute("""
        INSERT INTO application (number, person, region_path, state, applicant_name,
            applicant_relation, applicant_phone, disabled_since, created_by, created_at)
        SELECT 'SQB' || lpad(p.id::text, 12, '0'), p.id, p.region_path, 'CLOSED', '家属', '子女',
            '13900000000', DATE '2024-01-01', $1, now()
        FROM person p""", clerk["id"])
    await connection.execute("""
        INSERT INTO assessment (application, region_path, kind, state, assessor_1, assessor_2,
            draw, ruleset, grade, concluded_at, created_at)
        SELECT a.id, a.region_path, 'initial', 'CONCLUDED', $1, $2, '{}', $3,
            3 + (a.person % 3), now(), now()
        FROM application a""", assessor, staff_ids[1], ruleset)
    await connection.execute("""
        INSERT INTO decision (number, application, assessment, person, region_path, grade,
            eligible, basis, decided_on, policy_version, created_at)
        SELECT 'JDB' || lpad(s.id::text, 12, '0'), s.application, s.id, a.person,
            s.region_path, s.grade, true, 'no_objection', DATE '2024-12-20', $1, now()
        FROM assessment s JOIN application a ON a.id = s.application""", policy)
    await connection.execute("""
        INSERT INTO entitlement (decision, person, region_path, grade, starts_on, expires_on,
            state, policy_version, created_at)
        SELECT d.id, d.person, d.region_path, d.grade, $1, $2, 'ACTIVE', $3, now()
        FROM decision d""", STARTS_ON, EXPIRES_ON, policy)
    await connection.execute("""
        INSERT INTO care_plan (entitlement, person, region_path, plan_no, care_form, provider,
            items, visits_per_month, starts_on, state, proposed_by, confirmed_by, created_at)
        SELECT e.id, e.person, e.region_path, 1, 'home', $1, $2, e.grade - 1, $3, 'ACTIVE',
            $4, $4, now()
        FROM entitlement e""", provider, json.dumps(required), STARTS_ON, clerk["id"])
    print(f"{beneficiaries:,} beneficiaries with entitlements and plans, {staff} staff "
          f"in {time.monotonic() - started:.1f} s")

    started = time.monotonic()
    await connection.execute("""
        INSERT INTO visit (client_uuid, person, entitlement, care_plan, provider, staff,
            region_path, service_type, visit_on, started_at, ended_at, items, notes,
            family_confirmed_by, confirmation_code, flags, review, response, created_at)
        SELECT gen_random_uuid(), c.person, c.entitlement, c.id, $1,
            ($2::int[])[1 + (g % array_length($2::int[], 1))], c.region_path, 'home_visit',
            d.day, d.start, d.start + interval '45 minutes',
            c.items, '', '家属', '1234', '[]', 'accepted', '', now()
        FROM generate_series(1, $3) AS g
        JOIN care_plan c ON c.id = 1 + (g % $4)
        CROSS JOIN LATERAL (
            SELECT DATE '2026-11-01' - (g % 365) AS day,
                   ((DATE '2026-11-01' - (g % 365)) + time '08:00')
                   AT TIME ZONE 'Asia/Shanghai' + (g % 10) * interval '50 minutes' AS start
        ) d
        """, provider, staff_ids, visits, beneficiaries)
    await connection.execute("ANALYZE")
    count = await connection.fetchval("SELECT count(*) FROM visit")
    print(f"{count:,} visits in {time.monotonic() - started:.1f} s")
    await connection.close()
    return {"provider": provider, "staff": staff_ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/ltc_bench_visits")
    parser.add_argument("--beneficiaries", type=int, default=20_000)
    parser.add_argument("--staff", type=int, default=200)
    parser.add_argument("--visits", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(generate(args.url, args.beneficiaries, args.staff, args.visits))


if __name__ == "__main__":
    main()
