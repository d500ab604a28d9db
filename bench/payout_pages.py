"""The payout pages at city scale (issue 18): a batch's totals, its approval checks and the
line search, read as the pages read them, and the entitlements' daily pass.

    .venv/bin/python -m bench.payout_pages [--url postgresql://postgres@127.0.0.1/ltc_bench_perf]
        [--beneficiaries 200000] [--skip-load] [--requests 30] [--skip-before]

Loads bench/payout_data.py's region (two months of visits) into a scratch database, computes
September 2026's batch and marks it approved (as the reviewer would), then computes October's
(timed: it now also stores the page figures). Times, in-process, `queries.batch_detail` (the
totals by benefit and town beside September's) and `figures.checks` (the approval checks
against September) from the stored figures, then again summed from the lines as before (the
stored rows deleted in a transaction rolled back: the fallback for a batch computed before
they were stored, which is the earlier code's query), and `queries.lines` with a name search
against the earlier query (any part of the payee's or the person's name over every line of
the batch). Then
`entitlements.refresh_all` for a day: the first pass (writes the day's changes) and a second
(nothing left to write).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from bench.payout_data import MONTH, REGION, generate
from ltc import clock, db, schema
from ltc.entitlements import service as entitlements
from ltc.identity import SYSTEM
from ltc.payouts import figures, queries
from ltc.payouts import service as payouts
from ltc.payouts.tables import (
    PayoutBatch,
    PayoutBatchAnomaly,
    PayoutBatchFigures,
    PayoutBatchProvider,
    PayoutBatchTotal,
    PayoutLine,
)

REFRESH_DAY = date(2026, 11, 1)


async def timed(label: str, call: Callable[[], Awaitable[Any]], requests: int) -> Any:
    result = await call()  # warm the plan once
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(times, n=20)[18]
    print(f"{label:<52}{statistics.median(times):>9.1f}{p95:>9.1f}")
    return result


async def batch(month: date, approve: bool) -> dict[str, Any]:
    row = await PayoutBatch.select().where(PayoutBatch.month == month).first()
    if row is None:
        row = await payouts.create_batch(SYSTEM, REGION, month)
        started = time.perf_counter()
        row = await payouts.compute(row["id"])
        print(f"{month:%Y-%m} computed in {time.perf_counter() - started:.1f} s, "
              f"{row['line_count']:,} lines")
    if approve:  # set-up, not the flow under test
        await PayoutBatch.raw("UPDATE payout_batch SET state = 'APPROVED', approved_at = "
                              "computed_at WHERE id = {}", row["id"])
    return row


async def figure_reads(batch_id: int, detail: dict[str, Any], how: str, requests: int) -> None:
    await timed(f"batch page figures, {how}", lambda: queries.batch_detail(SYSTEM, batch_id),
                requests)
    checks = await timed(f"approval checks, {how}", lambda: figures.checks(detail), requests)
    print(f"  ({len(checks['payees']):,} payees flagged, "
          f"{checks['excluded_lines']:,} lines excluding visits)")


async def earlier_search(batch_id: int, term: str) -> list[dict[str, Any]]:
    """The line search before issue 18, for comparison."""
    where = (PayoutLine.batch == batch_id) & (
        PayoutLine.payee_name.like(f"%{term}%") | (PayoutLine.payee_key == term)
        | PayoutLine.person.name.like(f"%{term}%"))
    return await PayoutLine.select(PayoutLine.id, PayoutLine.person.name).where(where).order_by(
        PayoutLine.id).limit(queries.PAGE)


async def main(url: str, requests: int, before: bool = True) -> None:
    db.bind(db.make_engine(url))
    await schema.migrate()
    september = await batch(clock.previous_month(MONTH), approve=True)
    october = await batch(MONTH, approve=False)
    for month in (september, october):  # figures left out by an earlier version of this bench
        if not await PayoutBatchFigures.exists().where(PayoutBatchFigures.batch == month["id"]):
            async with db.write_transaction():
                await figures.store(month)
    detail = await queries.batch_detail(SYSTEM, october["id"])
    sample = await PayoutLine.select(PayoutLine.person.name, PayoutLine.payee_name).where(
        (PayoutLine.batch == october["id"]) & PayoutLine.payee_key.like("cg:%")).limit(1)
    person, payee = sample[0]["person.name"], sample[0]["payee_name"]
    last = await PayoutLine.select(PayoutLine.person.name).where(
        PayoutLine.batch == october["id"]).order_by(PayoutLine.id, ascending=False).first()
    print(f"{'read (in-process)':<52}{'p50 ms':>9}{'p95 ms':>9}")
    await figure_reads(october["id"], detail, "stored figures", requests)
    if before:  # the same reads without the stored figures, deleted in a transaction undone
        transaction = PayoutBatch._meta.db.transaction()
        async with transaction:
            for table in (PayoutBatchTotal, PayoutBatchAnomaly, PayoutBatchProvider,
                          PayoutBatchFigures):
                await table.delete(force=True)
            await figure_reads(october["id"], detail, "summed from the lines (before)",
                               requests)
            await transaction.rollback()
    for label, term in ((f"person {last['person.name']}", last["person.name"]),
                        (f"broad name prefix {person}", person),
                        (f"caregiver payee {payee}", payee),
                        ("provider 护理", "护理"), ("no such name 无此人", "无此人")):
        found = await timed(f"line search, {label}",
                            lambda t=term: queries.lines(october, q=t), requests)
        if before:
            earlier = await timed(f"  before: {label}", lambda t=term: earlier_search(
                october["id"], t), max(3, requests // 10))
            print(f"  ({len(found)} / {len(earlier)} lines on the first page)")
    for round_ in ("first pass", "second pass, nothing to write"):
        started = time.perf_counter()
        counts = await entitlements.refresh_all(REFRESH_DAY)
        print(f"refresh_all {REFRESH_DAY}, {round_}: {counts} in "
              f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/ltc_bench_perf")
    parser.add_argument("--beneficiaries", type=int, default=200_000)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--skip-before", action="store_true",
                        help="time only the current reads (the earlier ones take minutes at 1M)")
    args = parser.parse_args()
    if not args.skip_load:
        asyncio.run(generate(args.url, args.beneficiaries, visit_months=2))
    asyncio.run(main(args.url, args.requests, before=not args.skip_before))
