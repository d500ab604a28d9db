"""The dashboard at city scale (issue 18): figures made by the job, pages read from them.

    .venv/bin/python -m bench.dashboard [--url postgresql://postgres@127.0.0.1/ltc_bench_dash]
                                        [--beneficiaries 1000000] [--skip-load] [--requests 60]

Loads bench/payout_data.py's region (1,000,000 beneficiaries with their application →
assessment → decision → entitlement chain, providers, visits, stays) into a scratch database,
computes October 2026's batch and marks it approved (as the reviewer would), times
`ltc.dashboard.service.refresh` — the nightly job — and then starts the real app (uvicorn,
one process), signs in as a reviewer and times full page requests over loopback: p50 and p95
— the dashboard's pages, then October's batch page and its line search.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from bench.intake_pages import free_port
from bench.payout_data import MONTH, REGION, generate
from ltc import db, schema
from ltc.accounts import interface as accounts_interface
from ltc.accounts import service as accounts
from ltc.dashboard import service as dashboard
from ltc.dashboard.tables import DashboardFigure
from ltc.identity import SYSTEM
from ltc.payouts import service as payouts
from ltc.payouts.tables import PayoutBatch

PAGES = {
    "dashboard, default month": "/dashboard",
    "dashboard, October 2026": "/dashboard?month=2026-10",
    "dashboard, one town": "/dashboard?month=2026-10&town=370983001",
    "CSV: spend by month": "/dashboard/export.csv?section=spend&month=2026-10",
}


def batch_pages(batch_id: int) -> dict[str, str]:
    """The batch page and its line search, as the reviewer opens them (issue 18's other
    bureau pages): totals and checks from the stored figures, a search for one person, a
    surname-like prefix (a ninth of the people), a word of most providers' names."""
    page = f"/payouts/{batch_id}"
    return {"batch page (totals, checks)": page,
            "line search, one person": f"{page}?q=压测999910",
            "line search, broad prefix 压测4": f"{page}?q=压测4",
            "line search, provider 护理": f"{page}?q=护理"}


async def prepare(url: str) -> int:
    db.bind(db.make_engine(url))
    await schema.migrate()
    batch = await PayoutBatch.select().where(PayoutBatch.month == MONTH).first()
    if batch is None:
        batch = await payouts.create_batch(SYSTEM, REGION, MONTH)
        started = time.perf_counter()
        await payouts.compute(batch["id"])
        print(f"October's batch computed in {time.perf_counter() - started:.1f} s")
    # Set-up, not the flow under test: the batch as if submitted and approved.
    await PayoutBatch.raw("UPDATE payout_batch SET state = 'APPROVED', approved_at = "
                          "computed_at WHERE id = {}", batch["id"])
    lines = await PayoutBatch.raw("SELECT COUNT(*) AS n FROM payout_line")
    print(f"{lines[0]['n']:,} payout lines")
    if not await accounts_interface.account_by_username("bench_reviewer"):
        await accounts.create_user(
            SYSTEM, username="bench_reviewer", display_name="压测审核员", role="reviewer",
            region_code=REGION, organisation_code=None, password="bench-pass-1",
            password_iterations=1000)
    for round_ in ("refresh (the nightly job)", "refresh again"):
        started = time.perf_counter()
        rows = await dashboard.refresh(REGION)
        print(f"{round_}: {rows:,} figure rows in {time.perf_counter() - started:.1f} s")
    print(f"figure rows stored: {await DashboardFigure.count():,}")
    return batch["id"]


def measure(url: str, requests: int, pages: dict[str, str]) -> None:
    port = free_port()
    env = {**os.environ, "LTC_DATABASE_URL": url, "LTC_SECRET_KEY": "b" * 48,
           "LTC_BROKER_URL": "redis://127.0.0.1:6379/8", "LTC_VAR_DIR": tempfile.mkdtemp(),
           "LTC_SECURE_COOKIES": "false"}  # plain http on loopback
    subprocess.run([sys.executable, "-m", "ltc.cli", "audit", "init-keys"], env=env,
                   check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "ltc.app:create_app", "--factory", "--port",
         str(port), "--log-level", "warning"], env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(150):
                try:
                    client.get("/login")
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            answer = client.post("/login", data={
                "username": "bench_reviewer", "password": "bench-pass-1",
                "_csrf_token": client.cookies["ltc_csrf"]})
            assert answer.status_code in (302, 303), answer.text
            print(f"{'page':<34}{'p50 ms':>8}{'p95 ms':>8}{'bytes':>9}")
            for label, path in pages.items():
                client.get(path)  # warm the plan and the template once
                times = []
                for _ in range(requests):
                    started = time.perf_counter()
                    answer = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, (path, answer.status_code)
                p95 = statistics.quantiles(times, n=20)[18]
                print(f"{label:<34}{statistics.median(times):>8.1f}{p95:>8.1f}"
                      f"{len(answer.content):>9,}")
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/ltc_bench_dash")
    parser.add_argument("--beneficiaries", type=int, default=1_000_000)
    parser.add_argument("--visit-months", type=int, default=1)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    if not args.skip_load:
        started = time.perf_counter()
        asyncio.run(generate(args.url, args.beneficiaries, args.visit_months))
        print(f"loaded in {time.perf_counter() - started:.0f} s")
    batch_id = asyncio.run(prepare(args.url))
    measure(args.url, args.requests, {**PAGES, **batch_pages(batch_id)})


if __name__ == "__main__":
    main()
