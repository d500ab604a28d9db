"""The nightly 稽核 run (ltc.inspections) over a month of visits on PostgreSQL.

    .venv/bin/python -m bench.inspections [--url postgresql://ltc_ci:ltc_ci@127.0.0.1:5432/ltc_bench_inspections]
                                          [--visits 1000000] [--staff 5000] [--keep]

Creates a scratch database (dropped at the end unless --keep), applies the migrations and
reference data, and bulk-loads one provider, `--staff` staff members with 20 beneficiaries
each (homes a few hundred metres apart, every beneficiary's home located) and `--visits`
visits in December 2026 (COPY for people, one INSERT … SELECT for visits): up to eight a
day per staff member, checked in within ~30 m of home, logged ten minutes after, each with
its own signature image and confirmer. Planted in it: every 997th visit checked in 33 km
away (impossible travel); every 250th staff member checking in 1.1 km from home (far share);
every 300th typing up the month in one late burst; every 400th using one signature image
for all their beneficiaries, and the 401st naming one confirmer for all; every 500th
(from the 3rd) checking in at one spot for all. Then it times the
run of the night of 29 December (1–28 December) and a second run of the same night, and
prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from datetime import UTC, date, datetime

import asyncpg
from piccolo.query.functions.aggregate import Count

from bench.intake_data import recreate_database
from bench.visits_data import _resident_id
from ltc import db, reference, schema
from ltc.accounts import service as accounts
from ltc.identity import SYSTEM
from ltc.inspections import service
from ltc.inspections.tables import InspectionFinding

TOWN = "370983001"
PEOPLE_PER_STAFF = 20
NIGHT = date(2026, 12, 29)


async def generate(url: str, visits: int, staff: int) -> None:
    await recreate_database(url)
    db.bind(db.make_engine(url))
    await schema.migrate()
    await reference.load_reference_data()
    connection = await asyncpg.connect(url)
    started = time.monotonic()
    town = await connection.fetchrow("SELECT id, path FROM region WHERE code = $1", TOWN)
    village = await connection.fetchrow(
        "SELECT id, path FROM region WHERE parent = $1 ORDER BY code LIMIT 1", town["id"])
    provider = await connection.fetchval(
        "INSERT INTO organisation (code, name, kind, region, active) "
        "VALUES ('BENCH-P-001', '压测镇卫生院', 'provider', $1, true) RETURNING id", town["id"])
    first = await accounts.create_user(
        SYSTEM, username="nurse00000", display_name="护理员00000", role="provider",
        region_code=TOWN, organisation_code="BENCH-P-001", password="bench-pass-1",
        password_iterations=1000)
    await connection.execute("""
        INSERT INTO ltc_user (username, display_name, role, region, organisation,
            password_hash, active, created_at, version)
        SELECT 'nurse' || lpad(g::text, 5, '0'), '护理员' || lpad(g::text, 5, '0'), role, region,
            organisation, password_hash, active, created_at, version
        FROM ltc_user u CROSS JOIN generate_series(1, $2 - 1) g WHERE u.id = $1""",
                             first["id"], staff)
    staff_ids = [r["id"] for r in await connection.fetch(
        "SELECT id FROM ltc_user WHERE organisation = $1 ORDER BY username", provider)]
    now = datetime.now(UTC)
    people = []
    for s in range(staff):
        for j in range(PEOPLE_PER_STAFF):
            seq = s * PEOPLE_PER_STAFF + j + 1
            rid, birth = _resident_id(seq)
            people.append((rid, f"压测{seq:07d}", "yc", "MF"[seq % 2], birth, "13800000000",
                           f"{seq}号", village["id"], village["path"], now, 1,
                           *_home(s, j)))
    await connection.copy_records_to_table(
        "person", records=people,
        columns=["resident_id", "name", "name_initials", "sex", "birth_date", "phone",
                 "address", "village", "region_path", "created_at", "version", "latitude",
                 "longitude"])
    first_person = await connection.fetchval("SELECT min(id) FROM person")
    print(f"{len(people):,} beneficiaries, {staff:,} staff in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    # g → staff member s = g % staff, their k-th visit (k = g / staff): day 1 + k / 8 (within
    # 1–28: up to 224 visits each), slot k % 8 at 08:00 + 70 minutes each, beneficiary
    # j = k % 20; every 500th staff member (from the 3rd) checks in at one spot for all.
    await connection.execute("""
        INSERT INTO visit (client_uuid, person, provider, staff, region_path, service_type,
            visit_on, started_at, ended_at, checkin_latitude, checkin_longitude, items, notes,
            family_confirmed_by, confirmation_code, signature_sha256, flags, review, response,
            created_at)
        SELECT gen_random_uuid(), $3 + v.s * 20 + v.j, $1, ($2::int[])[1 + v.s], $4,
            'home_visit', v.day, v.start, v.start + interval '45 minutes',
            36.0 + (v.s % 100) * 0.01 + (v.g % 7) * 0.00004
                + CASE WHEN v.s % 500 = 3 THEN 0 ELSE v.j * 0.002 END
                + CASE WHEN v.g % 997 = 0 THEN 0.3 ELSE 0 END
                + CASE WHEN v.s % 250 = 0 THEN 0.01 ELSE 0 END,
            116.0 + (v.s / 100) * 0.01 + (v.g % 5) * 0.00004,
            '[]', '',
            CASE WHEN v.s % 400 = 1 THEN '王芳' ELSE '家属' || (v.s * 20 + v.j) END, '',
            CASE WHEN v.s % 400 = 0 THEN md5('shared' || v.s) || md5('shared' || v.s)
                 ELSE md5(v.g::text) || md5('x' || v.g) END,
            '[]', 'accepted', '',
            CASE WHEN v.s % 300 = 7
                 THEN TIMESTAMPTZ '2026-12-28 12:00+08' + v.k * interval '1 minute'
                 ELSE v.start + interval '55 minutes' END
        FROM (SELECT g, g % $6 AS s, g / $6 AS k, (g / $6) % 20 AS j,
                     DATE '2026-12-01' + ((g / $6) / 8) % 28 AS day,
                     ((DATE '2026-12-01' + ((g / $6) / 8) % 28) + time '08:00')
                         AT TIME ZONE 'Asia/Shanghai'
                         + ((g / $6) % 8) * interval '70 minutes' AS start
              FROM generate_series(0, $5 - 1) AS g) v
        """, provider, staff_ids, first_person, village["path"], visits, staff)
    await connection.execute("ANALYZE")
    count = await connection.fetchval("SELECT count(*) FROM visit")
    print(f"{count:,} visits in {time.monotonic() - started:.1f} s")
    await connection.close()


def _home(s: int, j: int) -> tuple[float, float]:
    return 36.0 + (s % 100) * 0.01 + j * 0.002, 116.0 + (s // 100) * 0.01


async def run(url: str, visits: int, staff: int, keep: bool) -> None:
    await generate(url, visits, staff)
    started = time.monotonic()
    first = await service.run_night(NIGHT)
    elapsed = time.monotonic() - started
    by_rule = {r["rule"]: r["count"] for r in await InspectionFinding.select(
        InspectionFinding.rule, Count(InspectionFinding.id, alias="count")
    ).group_by(InspectionFinding.rule)}
    print(f"nightly run: {first.visits:,} visits read, {first.found:,} findings "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(by_rule.items()))}) "
          f"in {elapsed:.1f} s ({first.visits / elapsed:,.0f} visits/s)")
    started = time.monotonic()
    again = await service.run_night(NIGHT)
    print(f"same night again: {again.added} added, {again.updated} updated "
          f"in {time.monotonic() - started:.1f} s")
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    await db.close_pool()
    if not keep:
        admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
        await admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default="postgresql://ltc_ci:ltc_ci@127.0.0.1:5432/ltc_bench_inspections")
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--staff", type=int, default=5_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    asyncio.run(run(args.url, args.visits, args.staff, args.keep))


if __name__ == "__main__":
    main()
