"""Generate one pooling region's month of payout facts for bench/payout.py (issue 6), on
PostgreSQL or SQLite, set-based (INSERT … SELECT over a number series; no row loop in Python).

Region 370983 (肥城市, 14 towns, 58 villages from the reference data) with `beneficiaries`
people, each with the chain an entitlement stands on (application → assessment → decision →
entitlement, policy feicheng.json). Who gets what is a fixed hash of the person's id, so runs
are deterministic:

- grade 3 / 4 / 5: 50 / 30 / 20 %; 2 % of entitlements start during the month, the rest
  between 2025-01 and 2026-08; 0.3 % die during the month (entitlement ended that day);
- 70 % home care: one of 500 home-care providers (provider agreement; 2 of them suspended
  from the 16th), the grade's quota of visits (2/3/4) per month for 85 %, one more
  (over quota) for 7 %, one fewer for 8 %; 2 % of visits flagged (not reviewed), 1 %
  rejected, 3 % accepted after review; half of the home-care beneficiaries also have a
  family caregiver agreement (1 % of those terminated on the 11th);
- 30 % institutional: a stay at one of 200 institutions (agreement with beds; a fifth with
  their own bed-day rates, one suspended from the 16th), admitted before the month (or on
  the entitlement's first day), 2 % discharged during the month;
- 3 % a hospital stay starting in the month (3–11 days; a tenth not yet discharged).

Visits are generated for `visit_months` months ending with the batch month, so the month's
filter has history to skip.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import date

import asyncpg

from bench.intake_data import migrated_with_clerk, recreate_database
from ltc.settings import sqlite_path

MONTH = date(2026, 10, 1)
REGION = "370983"
HOME_PROVIDERS = 500
INSTITUTIONS = 200


class Loader:
    """One connection, the same SQL on both engines but for a few spellings."""

    def __init__(self, url: str):
        self.url = url
        self.pg = not url.startswith("sqlite")
        self.connection: asyncpg.Connection | sqlite3.Connection | None = None

    async def open(self) -> None:
        if self.pg:
            self.connection = await asyncpg.connect(self.url)
        else:
            self.connection = sqlite3.connect(sqlite_path(self.url), isolation_level=None)
            self.connection.execute("PRAGMA synchronous=OFF")

    async def close(self) -> None:
        if self.pg:
            await self.connection.close()
        else:
            self.connection.close()

    async def run(self, sql: str) -> None:
        if self.pg:
            await self.connection.execute(sql)
        else:
            self.connection.execute("BEGIN")
            self.connection.execute(sql)
            self.connection.execute("COMMIT")

    async def rows(self, sql: str) -> list[tuple]:
        if self.pg:
            return [tuple(r) for r in await self.connection.fetch(sql)]
        return self.connection.execute(sql).fetchall()

    async def value(self, sql: str):
        return (await self.rows(sql))[0][0]

    # --- spellings ------------------------------------------------------------------------
    def series(self, n: int, alias: str) -> str:
        if self.pg:
            return f"generate_series(1, {int(n)}) AS {alias}(n)"
        if n <= 100:  # a constant table: SQLite would rescan bench_seq for every outer row
            values = ", ".join(f"({i})" for i in range(1, int(n) + 1))
            return f"(SELECT column1 AS n FROM (VALUES {values})) AS {alias}"
        return f"(SELECT n FROM bench_seq WHERE n <= {int(n)}) AS {alias}"

    def day(self, value: date) -> str:
        return f"DATE '{value}'" if self.pg else f"'{value}'"

    def add(self, value: str, days: str) -> str:
        if self.pg:
            return f"(({value}) + ({days}))"
        return f"date({value}, printf('%+d days', {days}))"

    def months_before(self, value: str, months: str) -> str:
        if self.pg:
            return f"CAST(({value}) - make_interval(months => {months}) AS DATE)"
        return f"date({value}, printf('-%d months', {months}))"

    def moment(self, day: str, china_hour: str, minutes: int = 0) -> str:
        """A Timestamptz at `china_hour`:mm (UTC+8) of `day`, stored as Piccolo stores it."""
        if self.pg:
            return (f"((CAST({day} AS timestamp) + make_interval(hours => {china_hour}, "
                    f"mins => {minutes})) AT TIME ZONE 'Asia/Shanghai')")
        return (f"(datetime({day}, printf('%+d hours', {china_hour} - 8), "
                f"'+{minutes} minutes') || '+00:00')")

    def pad(self, number: str, width: int) -> str:
        if self.pg:
            return f"lpad(CAST({number} AS TEXT), {width}, '0')"
        return f"substr('{'0' * width}' || {number}, -{width}, {width})"

    def uuid(self, a: str, b: str) -> str:
        if self.pg:
            return f"CAST(md5('bench-' || {a} || '-' || {b}) AS uuid)"
        return f"printf('00000000-0000-4000-8000-%06x%06x', {a}, {b})"

    @property
    def now(self) -> str:
        return "now()" if self.pg else "'2026-11-01 00:00:00+00:00'"


# Per-person facts, from the person's id x (a fixed hash each, so they are uncorrelated).
def home(x: str) -> str:
    return f"(({x}) * 37 % 100 < 70)"


def grade(x: str) -> str:
    return f"(CASE WHEN ({x}) * 53 % 100 < 50 THEN 3 WHEN ({x}) * 53 % 100 < 80 THEN 4 ELSE 5 END)"


def is_new(x: str) -> str:
    return f"(({x}) * 71 % 100 < 2)"


def dies(x: str) -> str:
    return f"(({x}) * 13 % 1000 < 3 AND NOT {is_new(x)})"


def hospital(x: str) -> str:
    return f"(({x}) * 17 % 100 < 3)"


def caregiver(x: str) -> str:
    return f"({home(x)} AND ({x}) * 61 % 100 < 50)"


def visit_count(x: str, grade_col: str) -> str:
    q = f"({grade_col} - 1)"  # the policy's quota: grade 3/4/5 → 2/3/4
    return (f"(CASE WHEN ({x}) * 29 % 100 < 7 THEN {q} + 1 "
            f"WHEN ({x}) * 29 % 100 < 15 THEN {q} - 1 ELSE {q} END)")


async def generate(url: str, beneficiaries: int, visit_months: int) -> None:
    started = time.monotonic()
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    else:
        await recreate_database(url)
    clerk = await migrated_with_clerk(url, REGION)
    x = Loader(url)
    await x.open()
    if not x.pg:
        await x.run(f"CREATE TEMP TABLE bench_seq AS WITH RECURSIVE s(n) AS (SELECT 1 "
                    f"UNION ALL SELECT n + 1 FROM s WHERE n < {max(beneficiaries, 1000)}) "
                    "SELECT n FROM s")
    region = await x.value(f"SELECT path FROM region WHERE code = '{REGION}'")
    policy = await x.value(f"SELECT p.id FROM policy_version p JOIN region r ON r.id = p.region "
                           f"WHERE r.code = '{REGION}' ORDER BY p.effective_from DESC LIMIT 1")
    ruleset = await x.value("SELECT id FROM ruleset ORDER BY id LIMIT 1")
    villages = await x.rows(f"SELECT id, path FROM region WHERE level = 'village' AND path LIKE "
                            f"'{region}/%' ORDER BY code")
    towns = await x.rows(f"SELECT id, path FROM region WHERE level = 'town' AND path LIKE "
                         f"'{region}/%' ORDER BY code")
    await x.run("CREATE TEMP TABLE bench_place (k INTEGER, id INTEGER, path TEXT, town INTEGER)")
    await x.run("INSERT INTO bench_place VALUES " + ", ".join(
        f"({k}, {vid}, '{path}', 0)" for k, (vid, path) in enumerate(villages)) + ", " +
        ", ".join(f"({k}, {tid}, '{path}', 1)" for k, (tid, path) in enumerate(towns)))
    m1 = x.day(MONTH)
    nv, nt = len(villages), len(towns)

    # Providers: 500 home-care, 200 institutions, each with an agreement; one staff each.
    await x.run(f"""
        INSERT INTO organisation (code, name, kind, region, active)
        SELECT CASE WHEN s.n <= {HOME_PROVIDERS} THEN 'BENCH-H-' || {x.pad('s.n', 3)}
                    ELSE 'BENCH-I-' || {x.pad(f's.n - {HOME_PROVIDERS}', 3)} END,
               CASE WHEN s.n <= {HOME_PROVIDERS} THEN '压测居家护理站' || s.n
                    ELSE '压测护理院' || (s.n - {HOME_PROVIDERS}) END,
               'provider', t.id, true
        FROM {x.series(HOME_PROVIDERS + INSTITUTIONS, 's')}
        JOIN bench_place t ON t.town = 1 AND t.k = s.n % {nt} ORDER BY s.n""")
    first_org = await x.value("SELECT MIN(id) FROM organisation WHERE code LIKE 'BENCH-%'")
    assert await x.value("SELECT MAX(id) - MIN(id) + 1 FROM organisation "
                         "WHERE code LIKE 'BENCH-%'") == HOME_PROVIDERS + INSTITUTIONS
    await x.run(f"""
        INSERT INTO agreement (number, kind, region_path, organisation, home_visits,
            institutional_beds, visit_rate_fen, bed_day_rates, bank_name, bank_account,
            starts_on, ends_on, state, state_changed_on, created_by, created_at)
        SELECT 'XYBP' || {x.pad('o.id', 8)}, 'provider', r.path, o.id,
               o.id - {first_org} < {HOME_PROVIDERS},
               CASE WHEN o.id - {first_org} < {HOME_PROVIDERS} THEN 0
                    ELSE 30 + (o.id * 7) % 170 END,
               CASE WHEN o.id % 10 = 0 THEN 9000 END,
               CASE WHEN o.id - {first_org} >= {HOME_PROVIDERS} AND o.id % 5 = 0
                    THEN '{{"3": 5500, "4": 6500, "5": 7500}}' ELSE '{{}}' END,
               '肥城农商银行', '6228' || {x.pad('o.id', 12)},
               {x.day(date(2024, 1, 1))}, {x.day(date(2027, 12, 31))},
               CASE WHEN o.id - {first_org} IN (7, 123, {HOME_PROVIDERS + 42}) THEN 'SUSPENDED'
                    ELSE 'ACTIVE' END,
               CASE WHEN o.id - {first_org} IN (7, 123, {HOME_PROVIDERS + 42})
                    THEN {x.add(m1, '15')} END,
               {clerk}, {x.now}
        FROM organisation o JOIN region r ON r.id = o.region WHERE o.code LIKE 'BENCH-%'""")
    await x.run(f"""
        INSERT INTO ltc_user (username, display_name, role, region, organisation,
                              password_hash, active, created_at)
        SELECT 'bench_staff_' || o.id, '护理员' || o.id, 'provider', o.region, o.id, '!', true,
               {x.now}
        FROM organisation o WHERE o.code LIKE 'BENCH-H-%' ORDER BY o.id""")
    first_staff = await x.value("SELECT MIN(id) FROM ltc_user WHERE username LIKE 'bench_staff_%'")

    # People and the chain an entitlement stands on.
    t = time.monotonic()
    await x.run(f"""
        INSERT INTO person (resident_id, name, name_initials, sex, birth_date, phone, address,
            village, region_path, latitude, longitude, deceased_on, created_at, version)
        SELECT '3709' || {x.pad('s.n', 14)}, '压测' || s.n, 'yc',
               CASE WHEN s.n % 2 = 0 THEN 'F' ELSE 'M' END,
               {x.add(x.day(date(1928, 1, 1)), 's.n * 79 % 14600')}, '13800000000',
               s.n || '号', v.id, v.path, 36.2 + (s.n % 1000) / 10000.0,
               116.7 + (s.n % 997) / 10000.0,
               CASE WHEN {dies('s.n')} THEN {x.add(m1, 's.n % 28')} END, {x.now}, 1
        FROM {x.series(beneficiaries, 's')} JOIN bench_place v ON v.town = 0
         AND v.k = s.n * 7 % {nv} ORDER BY s.n""")
    await x.run(f"""
        INSERT INTO application (number, person, region_path, state, applicant_name,
            applicant_relation, applicant_phone, disabled_since, created_by, created_at)
        SELECT 'SQB' || {x.pad('p.id', 12)}, p.id, p.region_path, 'CLOSED', '家属', '子女',
               '13900000000', {x.day(date(2024, 1, 1))}, {clerk}, {x.now}
        FROM person p ORDER BY p.id""")
    await x.run(f"""
        INSERT INTO assessment (application, region_path, kind, state, assessor_1, assessor_2,
            draw, ruleset, grade, concluded_at, created_at)
        SELECT a.id, a.region_path, 'initial', 'CONCLUDED', {clerk}, {first_staff}, '{{}}',
               {ruleset}, {grade('a.person')}, {x.now}, {x.now}
        FROM application a ORDER BY a.id""")
    await x.run(f"""
        INSERT INTO decision (number, application, assessment, person, region_path, grade,
            eligible, basis, decided_on, policy_version, created_at)
        SELECT 'JDB' || {x.pad('s.id', 12)}, s.application, s.id, a.person, s.region_path,
               s.grade, true, 'no_objection', {x.day(date(2024, 12, 20))}, {policy}, {x.now}
        FROM assessment s JOIN application a ON a.id = s.application ORDER BY s.id""")
    starts = (f"(CASE WHEN {is_new('d.person')} THEN {x.add(m1, '1 + d.person % 27')} "
              f"ELSE {x.add(x.day(date(2025, 1, 1)), 'd.person % 600')} END)")
    await x.run(f"""
        INSERT INTO entitlement (decision, person, region_path, grade, starts_on, expires_on,
            ends_on, end_reason, state, policy_version, created_at, version)
        SELECT d.id, d.person, d.region_path, d.grade, {starts}, {x.add(starts, '729')},
               CASE WHEN {dies('d.person')} THEN {x.add(m1, 'd.person % 28')} END,
               CASE WHEN {dies('d.person')} THEN 'deceased' ELSE '' END,
               CASE WHEN {dies('d.person')} THEN 'ENDED' ELSE 'ACTIVE' END,
               {policy}, {x.now}, 1
        FROM decision d ORDER BY d.id""")
    print(f"{beneficiaries:,} people with application, assessment, decision and entitlement "
          f"in {time.monotonic() - t:.1f} s")

    t = time.monotonic()
    await x.run(f"""
        INSERT INTO agreement (number, kind, region_path, beneficiary, caregiver_name,
            caregiver_resident_id, caregiver_phone, relationship, bank_name, bank_account,
            trained_on, starts_on, ends_on, state, state_changed_on, created_by, created_at)
        SELECT 'XYBC' || {x.pad('e.person', 10)}, 'caregiver', e.region_path, e.person,
               '家属' || e.person, '3710' || {x.pad('e.person', 14)}, '13700000000', '子女',
               '肥城农商银行', '6230' || {x.pad('e.person', 12)}, {x.day(date(2024, 12, 1))},
               e.starts_on, {x.day(date(2027, 12, 31))},
               CASE WHEN e.person % 100 = 0 THEN 'TERMINATED' ELSE 'ACTIVE' END,
               CASE WHEN e.person % 100 = 0 THEN {x.add(m1, '10')} END, {clerk}, {x.now}
        FROM entitlement e WHERE {caregiver('e.person')} ORDER BY e.id""")
    await x.run(f"""
        INSERT INTO institutional_stay (person, entitlement, institution, region_path,
            admitted_on, discharged_on, recorded_by, created_at)
        SELECT e.person, e.id, {first_org + HOME_PROVIDERS} + e.person * 89 % {INSTITUTIONS},
               e.region_path,
               CASE WHEN {is_new('e.person')} THEN e.starts_on
                    ELSE {x.add('e.starts_on', 'e.person % 30')} END,
               CASE WHEN e.person * 23 % 100 < 2 THEN {x.add(m1, '5 + e.person % 20')} END,
               {clerk}, {x.now}
        FROM entitlement e WHERE NOT {home('e.person')} ORDER BY e.id""")
    admitted = x.add(m1, '2 + p.id % 20')
    await x.run(f"""
        INSERT INTO hospital_stay (person, admitted_on, discharged_on, admission_source,
            discharge_source)
        SELECT p.id, {admitted},
               CASE WHEN p.id * 19 % 10 = 0 THEN NULL ELSE {x.add(admitted, '3 + p.id % 9')} END,
               'event bench-' || p.id, CASE WHEN p.id * 19 % 10 = 0 THEN '' ELSE
               'event bench-d-' || p.id END
        FROM person p WHERE {hospital('p.id')} ORDER BY p.id""")
    print(f"caregiver agreements, institutional and hospital stays in "
          f"{time.monotonic() - t:.1f} s")

    t = time.monotonic()
    k = visit_count("e.person", "e.grade")
    step = f"(30 / {k})"
    month_start = x.months_before(m1, "mo.n - 1")
    day = x.add(month_start, f"(j.n - 1) * {step} + e.person % {step}")
    review_hash = "((e.person * 31 + j.n * 7 + mo.n * 3) % 1000)"
    start = x.moment(day, "8 + e.person % 9")
    end = x.moment(day, "8 + e.person % 9", 45)
    provider = f"{first_org} + e.person * 97 % {HOME_PROVIDERS}"
    await x.run(f"""
        INSERT INTO visit (client_uuid, person, entitlement, provider, staff, region_path,
            service_type, visit_on, started_at, ended_at, items, notes, family_confirmed_by,
            confirmation_code, superseded, flags, review, review_reason, response,
            created_at, revision_reason, revision_note)
        SELECT {x.uuid('e.person', 'mo.n * 8 + j.n')}, e.person, e.id, {provider},
               {first_staff} + e.person * 97 % {HOME_PROVIDERS}, e.region_path, 'home_visit',
               {day}, {start}, {end}, '["B01", "B02", "B05"]', '', '家属', '1234', false,
               CASE WHEN {review_hash} < 30 THEN '[{{"code": "distance"}}]' ELSE '[]' END,
               CASE WHEN {review_hash} < 20 THEN 'flagged' WHEN {review_hash} < 30 THEN 'rejected'
                    WHEN {review_hash} < 60 THEN 'accepted_after_review' ELSE 'accepted' END,
               '', '', {x.now}, '', ''
        FROM entitlement e
        CROSS JOIN {x.series(visit_months, 'mo')}
        JOIN {x.series(5, 'j')} ON j.n <= {k}
        WHERE {home('e.person')} AND {day} >= e.starts_on
          AND (e.ends_on IS NULL OR {day} <= e.ends_on)""")
    visits = await x.value("SELECT COUNT(*) FROM visit")
    print(f"{visits:,} visits over {visit_months} month(s) in {time.monotonic() - t:.1f} s")
    t = time.monotonic()
    await x.run("ANALYZE")
    print(f"ANALYZE in {time.monotonic() - t:.1f} s; load total {time.monotonic() - started:.0f} s")
    await x.close()
