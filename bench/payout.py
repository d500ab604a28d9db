"""A month's payout computation for a whole pooling region (issue 6). Targets: < 60 s for
1,000,000 beneficiaries on PostgreSQL, < 15 s for 50,000 on SQLite, within 3× of one
hand-written aggregate query over the same rows, < 1 GB peak memory.

    .venv/bin/python -m bench.payout [--engine pg|sqlite] [--beneficiaries N] [--skip-load]
        [--load-only] [--visit-months 2] [--explain] [--url URL]

Loads the region (bench/payout_data.py; PostgreSQL database ltc_bench_payout is dropped and
recreated, SQLite file /tmp/ltc_bench_payout.sqlite3 replaced; --skip-load reuses them
(migrated to the current schema first), a draft's lines left by an earlier run are removed
first), makes the October 2026 batch with service.create_batch, then times service.compute
on the empty draft and again as a recompute (which deletes the draft's lines first). Prints
the lines per benefit, this process's peak RSS, then the hand-written query (the "physical
limit": the same money per benefit in one SELECT, nothing inserted), the ratio, and whether
its totals equal the computed ones. --explain runs the line INSERT … SELECT alone for a
scratch draft (rolled back): EXPLAIN ANALYZE on PostgreSQL, the plan and the time on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time
from datetime import datetime

from bench.payout_data import MONTH, REGION, Loader, generate
from ltc import clock, db, schema
from ltc.identity import SYSTEM
from ltc.payouts import computation, rules, service
from ltc.payouts.computation import Dialect, Month, _by_grade, region_filter
from ltc.payouts.tables import PayoutBatch

DEFAULTS = {"pg": ("postgresql://postgres@127.0.0.1/ltc_bench_payout", 1_000_000),
            "sqlite": ("sqlite:////tmp/ltc_bench_payout.sqlite3", 50_000)}


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def handwritten(d: Dialect, m: Month) -> str:
    """Per benefit: lines and gross, straight from the facts — entitlement days clipped to
    the month minus hospital days (interval overlap, no day rows), visits counted up to the
    quota, bed-days × rate. Ignores what the generator never makes (clerk suspensions,
    overlapping stays, several plans), so it is a lower bound, not a second implementation."""
    p = m.policy
    m1, ml = d.day(m.first), d.day(m.last)
    acc = ", ".join(f"'{r}'" for r in rules.ACCEPTED_REVIEWS)

    def held(person: str, a: str, b: str) -> str:
        last = d.least(b, f"COALESCE({d.shift('h.discharged_on', -1)}, {ml})")
        first = d.greatest(a, "h.admitted_on")
        return (f"(SELECT COALESCE(SUM({d.greatest('0', d.span(first, last))}), 0) "
                f"FROM hospital_stay h WHERE h.person = {person} AND h.admitted_on <= {b} "
                f"AND (h.discharged_on IS NULL OR h.discharged_on > {a}))")

    def ag_last(ag: str) -> str:
        return (f"(CASE WHEN {ag}.state <> 'ACTIVE' AND {ag}.state_changed_on IS NOT NULL "
                f"THEN {d.shift(f'{ag}.state_changed_on', -1)} ELSE {ag}.ends_on END)")

    return f"""
WITH ent AS (
  SELECT e.id, e.person, e.grade, {d.greatest('e.starts_on', m1)} AS a,
         {d.least('COALESCE(e.ends_on, e.expires_on)', 'e.expires_on', ml)} AS b
  FROM entitlement e
  WHERE {region_filter('e.region_path', m.region_path)} AND e.starts_on <= {ml}
    AND e.expires_on >= {m1} AND (e.ends_on IS NULL OR e.ends_on >= {m1})
),
pa AS (
  SELECT ag.id, ag.organisation, ag.starts_on AS a, {ag_last('ag')} AS b,
         COALESCE(ag.visit_rate_fen, {p.visit_rate_fen}) AS rate, ag.bed_day_rates
  FROM agreement ag WHERE ag.kind = 'provider' AND ag.state <> 'DRAFT'
),
cg AS (
  SELECT ent.person, COALESCE(ag.family_subsidy_fen, {p.family_subsidy_fen}) AS rate,
         {d.greatest('ent.a', 'ag.starts_on')} AS a, {d.least('ent.b', ag_last('ag'))} AS b
  FROM ent JOIN agreement ag ON ag.kind = 'caregiver' AND ag.beneficiary = ent.person
   AND ag.state <> 'DRAFT'
),
vis AS (
  SELECT v.person, v.provider, MAX(ent.grade) AS grade, MAX(pa.rate) AS rate,
         SUM(CASE WHEN v.review IN ({acc}) AND ent.id IS NOT NULL AND pa.id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM hospital_stay h WHERE h.person = v.person
                       AND h.admitted_on <= v.visit_on
                       AND (h.discharged_on IS NULL OR h.discharged_on > v.visit_on))
                  THEN 1 ELSE 0 END) AS ok
  FROM visit v
  LEFT JOIN ent ON ent.person = v.person AND v.visit_on >= ent.a AND v.visit_on <= ent.b
  LEFT JOIN pa ON pa.organisation = v.provider AND v.visit_on >= pa.a AND v.visit_on <= pa.b
  WHERE v.visit_on >= {m1} AND v.visit_on <= {ml} AND v.superseded = {d.false()}
    AND {region_filter('v.region_path', m.region_path)}
  GROUP BY v.person, v.provider
),
inst AS (
  SELECT ent.person, ent.grade,
         COALESCE({d.grade_rate('pa.bed_day_rates', 'ent.grade')},
                  {_by_grade('ent.grade', p.bed_day_rate_fen)}) AS rate,
         {d.greatest('ent.a', 'st.admitted_on', 'pa.a')} AS a,
         {d.least('ent.b', f"COALESCE({d.shift('st.discharged_on', -1)}, {ml})", 'pa.b')} AS b
  FROM institutional_stay st JOIN ent ON ent.person = st.person
  JOIN pa ON pa.organisation = st.institution
  WHERE st.admitted_on <= {ml} AND (st.discharged_on IS NULL OR st.discharged_on > {m1})
)
SELECT 'family_subsidy' AS benefit, COUNT(*) AS n, SUM((rate * days * 2 + {m.length})
       / {2 * m.length}) AS gross
FROM (SELECT rate, {d.span('cg.a', 'cg.b')} - {held('cg.person', 'cg.a', 'cg.b')} AS days
      FROM cg WHERE cg.a <= cg.b) c WHERE days > 0
UNION ALL
SELECT 'home_visit', COUNT(*),
       SUM(rate * {d.least('ok', _by_grade('grade', p.visits_per_month))}) FROM vis
UNION ALL
SELECT 'institutional', COUNT(*), SUM(rate * days)
FROM (SELECT rate, {d.span('i.a', 'i.b')} - {held('i.person', 'i.a', 'i.b')} AS days
      FROM inst i WHERE i.a <= i.b) x WHERE days > 0"""


async def _rows(sql: str) -> list[dict]:
    return await PayoutBatch.raw(sql)


async def _compute(label: str, batch_id: int) -> float:
    t = time.perf_counter()
    result = await service.compute(batch_id)
    elapsed = time.perf_counter() - t
    print(f"{label}: {elapsed:.1f} s — {result['line_count']:,} lines, "
          f"gross {result['gross_fen'] / 100:,.2f} 元, withheld "
          f"{result['withheld_fen'] / 100:,.2f} 元, net {result['net_fen'] / 100:,.2f} 元")
    return elapsed


async def measure(url: str, explain: bool) -> None:
    db.bind(db.make_engine(url))
    await schema.migrate()
    d = service.dialect()
    existing = await PayoutBatch.select().where(PayoutBatch.month == MONTH).first()
    batch = existing or await service.create_batch(SYSTEM, REGION, MONTH)
    batch_id = batch["id"]
    # A reused database: start from a draft without lines, as after create_batch.
    await _rows(f"DELETE FROM payout_line WHERE batch = {batch_id}")
    await _rows("VACUUM ANALYZE" if not d.sqlite else "ANALYZE")
    people = (await _rows("SELECT COUNT(*) AS n FROM entitlement"))[0]["n"]
    visits = (await _rows("SELECT COUNT(*) AS n FROM visit"))[0]["n"]
    print(f"{datetime.now(clock.CHINA):%Y-%m-%d %H:%M}  {'SQLite' if d.sqlite else 'PostgreSQL'}"
          f"  {people:,} entitlements, {visits:,} visits, batch {batch['number']}; "
          f"{os.cpu_count()} CPUs")
    rss_before = rss_mib()
    first = await _compute("compute (no lines yet)", batch_id)
    again = await _compute("recompute (deletes the draft's lines first)", batch_id)
    times = [first, again]
    print(f"peak RSS of this process: {rss_mib():.0f} MiB ({rss_before:.0f} MiB before "
          f"computing){'' if d.sqlite else '; PostgreSQL backends are separate processes'}")
    computed = {r["benefit"]: r for r in await _rows(
        "SELECT benefit, COUNT(*) AS n, SUM(gross_fen) AS gross, SUM(days) AS days, "
        "SUM(visits_counted) AS counted, SUM(visits_excluded) AS excluded FROM payout_line "
        f"WHERE batch = {batch_id} GROUP BY benefit ORDER BY benefit")}
    for benefit, r in computed.items():
        print(f"  {benefit:15} {r['n']:>9,} lines  {int(r['gross']) / 100:>16,.2f} 元  "
              f"days {r['days']:,}  visits counted {r['counted']:,} excluded {r['excluded']:,}")

    policy = await service._policy(batch["policy_version"])
    month = Month(MONTH, (await _rows(f"SELECT region_path FROM payout_batch WHERE id = "
                                      f"{batch_id}"))[0]["region_path"], policy)
    sql = handwritten(d, month)
    best = None
    for _ in range(2):
        t = time.perf_counter()
        rows = await _rows(sql)
        elapsed = time.perf_counter() - t
        best = elapsed if best is None else min(best, elapsed)
    print(f"hand-written aggregate query: {best:.1f} s (best of 2); compute / hand-written = "
          f"{times[0] / best:.1f}× (first), {times[1] / best:.1f}× (recompute)")
    for r in rows:
        c = computed.get(r["benefit"], {"n": 0, "gross": 0})
        same = "same" if (c["n"], int(c["gross"])) == (r["n"], int(r["gross"] or 0)) else "DIFFERS"
        print(f"  {r['benefit']:15} {r['n']:>9,} lines  {int(r['gross'] or 0) / 100:>16,.2f} 元"
              f"  ({same} as computed)")
    if explain:
        await _explain(url, d, month, month.region_path, batch["policy_version"])


async def _explain(url: str, d: Dialect, month: Month, region: str, policy_version: int) -> None:
    """Each big statement of compute alone, for a scratch draft in a transaction rolled back:
    EXPLAIN ANALYZE on PostgreSQL, the query plan and the time on SQLite."""
    x = Loader(url)
    await x.open()
    scratch = (f"INSERT INTO payout_batch (number, region_path, month, state, policy_version) "
               f"VALUES ('JSBENCHEXPLAIN', '{region}', {d.day(MONTH.replace(month=9))}, "
               f"'DRAFT', {policy_version}) RETURNING id")
    if x.pg:
        tx = x.connection.transaction()
        await tx.start()
        batch_id = await x.connection.fetchval(scratch)
    else:
        x.connection.execute("PRAGMA foreign_keys = 1")
        x.connection.execute("BEGIN")
        batch_id = x.connection.execute(scratch).fetchone()[0]
    for name, sql in (
            ("regular_lines", computation.regular_lines(d, month, batch_id, policy_version)),):
        if x.pg:
            plan = [r[0] for r in await x.connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)]
        else:
            plan = [f"{r[1]:>4} {r[3]}" for r in x.connection.execute("EXPLAIN QUERY PLAN " + sql)]
            t = time.perf_counter()
            x.connection.execute(sql)
            plan.append(f"Execution time: {(time.perf_counter() - t) * 1000:.0f} ms")
        print(f"--- {name}")
        print("\n".join(plan))
    if x.pg:
        await tx.rollback()
    else:
        x.connection.execute("ROLLBACK")
    await x.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("pg", "sqlite"), default="pg")
    parser.add_argument("--url")
    parser.add_argument("--beneficiaries", type=int)
    parser.add_argument("--visit-months", type=int, default=2)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    url = args.url or DEFAULTS[args.engine][0]
    if not args.skip_load:
        t = time.perf_counter()
        asyncio.run(generate(url, args.beneficiaries or DEFAULTS[args.engine][1],
                             args.visit_months))
        print(f"loaded in {time.perf_counter() - t:.0f} s")
    if not args.load_only:
        asyncio.run(measure(url, args.explain))


if __name__ == "__main__":
    main()
