"""Latency of the clerk's queue and search pages on the bench/intake_data.py data set.

    .venv/bin/python -m bench.intake_pages [--url postgresql://postgres@127.0.0.1/ltc_bench]
                                            [--requests 60]

Starts the real app (uvicorn, one process) on that database, signs in as the bench clerk, and
times full page requests over loopback for each query a clerk makes; prints p50 and p95 in ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import asyncpg
import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def samples(url: str) -> dict[str, str]:
    """Real values to search for: a name prefix, initials, an ID prefix, a phone."""
    connection = await asyncpg.connect(url)
    person = await connection.fetchrow(
        "SELECT p.name, p.name_initials, p.resident_id, p.phone FROM application a"
        " JOIN person p ON p.id = a.person ORDER BY a.id DESC LIMIT 1")
    await connection.close()
    return {
        "queue, newest first": "/applications",
        "queue, state = SUBMITTED": "/applications?state=SUBMITTED",
        "search: name prefix": f"/applications?q={person['name'][:2]}",
        "search: pinyin initials": f"/applications?q={person['name_initials']}",
        "search: full resident ID": f"/applications?q={person['resident_id']}",
        "search: ID prefix (10)": f"/applications?q={person['resident_id'][:10]}",
        "search: phone": f"/applications?q={person['phone']}",
    }


def main() -> None:
    import asyncio

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/ltc_bench")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    pages = asyncio.run(samples(args.url))

    port = free_port()
    env = {**os.environ, "LTC_DATABASE_URL": args.url, "LTC_SECRET_KEY": "b" * 48,
           "LTC_BROKER_URL": "redis://127.0.0.1:6379/13", "LTC_VAR_DIR": tempfile.mkdtemp(),
           "LTC_SECURE_COOKIES": "false"}  # plain http on loopback
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "ltc.app:create_app", "--factory", "--port",
         str(port), "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(100):
                try:
                    client.get("/login")
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            response = client.post("/login", data={
                "username": "bench_clerk", "password": "bench-pass-1",
                "_csrf_token": client.cookies["ltc_csrf"]})
            assert response.status_code in (302, 303), response.text
            next_page = None
            print(f"{'page':<28}{'p50 ms':>8}{'p95 ms':>8}{'rows':>6}")
            for label, path in pages.items():
                client.get(path)  # warm the plan and the cache once
                times = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                rows = response.text.count('href="/applications/') - response.text.count(
                    'href="/applications/new')
                p95 = statistics.quantiles(times, n=20)[18]
                print(f"{label:<28}{statistics.median(times):>8.1f}{p95:>8.1f}{rows:>6}")
                if "after=" in response.text and next_page is None:
                    start = response.text.index("after=") + len("after=")
                    next_page = path + ("&" if "?" in path else "?") + "after=" + \
                        response.text[start:response.text.index('"', start)]
            if next_page:
                times = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    assert client.get(next_page).status_code == 200
                    times.append((time.perf_counter() - started) * 1000)
                p95 = statistics.quantiles(times, n=20)[18]
                print(f"{'queue, page 2':<28}{statistics.median(times):>8.1f}{p95:>8.1f}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
