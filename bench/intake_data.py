"""Generate a large intake data set in PostgreSQL for bench/intake_pages.py.

    .venv/bin/python -m bench.intake_data [--url postgresql://postgres@127.0.0.1/ltc_bench]
                                           [--people 1000000] [--applications 200000]

Recreates the database, applies the migrations and reference data, then bulk-loads people with
valid resident IDs (GB 11643 check digits), pinyin initials and village addresses, and
applications spread over two years in every state, with COPY. Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg
from pypinyin import Style, lazy_pinyin
from stdnum.cn.ric import calc_check_digit

from ltc import db, reference, schema
from ltc.accounts import service as accounts
from ltc.identity import SYSTEM

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "秀英桂兰玉珍凤霞明华建国志强文杰淑芬丽娟海燕春梅永红德胜金花玉兰秀珍俊峰晓东云丽"
    "宝山长青福林素梅翠萍"
)
STATES = [("DRAFT", 2), ("SUBMITTED", 5), ("ACCEPTED", 3), ("REJECTED", 5), ("ASSIGNED", 15),
          ("CLOSED", 70)]


def resident_id(rng: random.Random, seq: int) -> tuple[str, date, str]:
    birth = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    body = f"370983{birth:%Y%m%d}{seq % 1000:03d}"
    # stdnum's calc_check_digit ignores the last character of what it is given.
    return body + calc_check_digit(body + "0"), birth, "M" if (seq % 1000) % 2 else "F"


async def recreate_database(url: str) -> None:
    """Drop and create the database of `url` (a benchmark's own, never a real one)."""
    admin = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(admin)
    await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await connection.execute(f"CREATE DATABASE {name}")
    await connection.close()


async def migrated_with_clerk(url: str, region_code: str) -> int:
    """Bind `url`, migrate it, load the reference data and create the benchmark clerk of
    `region_code`; returns the clerk's user id."""
    db.bind(db.make_engine(url))
    await schema.migrate()
    await reference.load_reference_data()
    return (await accounts.create_user(
        SYSTEM, username="bench_clerk", display_name="压测经办员", role="clerk",
        region_code=region_code, organisation_code=None, password="bench-pass-1",
        password_iterations=1000))["id"]


async def generate(url: str, people: int, applications: int) -> None:
    await recreate_database(url)
    clerk = await migrated_with_clerk(url, "370983")

    connection = await asyncpg.connect(url)
    villages = await connection.fetch("SELECT id, path FROM region WHERE level = 'village'")
    if not villages:
        raise SystemExit("no villages in the reference data")
    rng = random.Random(20261122)
    initials_of = {ch: lazy_pinyin(ch, style=Style.FIRST_LETTER)[0] for ch in SURNAMES + GIVEN}
    now = datetime.now(UTC)

    started = time.monotonic()
    seen: set[str] = set()
    rows = []
    seq = 0
    while len(rows) < people:
        seq += 1
        rid, birth, sex = resident_id(rng, seq)
        if rid in seen:
            continue
        seen.add(rid)
        person_name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN)
                                                     for _ in range(rng.choice((1, 2))))
        village = rng.choice(villages)
        rows.append((rid, person_name, "".join(initials_of[c] for c in person_name), sex, birth,
                     f"1{rng.randrange(3, 10)}{rng.randrange(10**9):09d}",
                     f"{rng.randrange(1, 200)}号", village["id"], village["path"], None, now, 1))
    await connection.copy_records_to_table(
        "person", records=rows,
        columns=["resident_id", "name", "name_initials", "sex", "birth_date", "phone",
                 "address", "village", "region_path", "insurance_number", "created_at",
                 "version"])
    print(f"{people:,} people in {time.monotonic() - started:.1f} s")

    started = time.monotonic()
    person_ids = await connection.fetch("SELECT id, region_path FROM person")
    states = [s for s, w in STATES for _ in range(w)]
    apps = []
    for i in range(applications):
        person = rng.choice(person_ids)
        created = now - timedelta(seconds=rng.randrange(2 * 365 * 86400))
        apps.append((f"SQ{created:%Y%m%d}{i:06d}", person["id"], person["region_path"],
                     rng.choice(states), "家属", "子女", "13900000000", None, None, None,
                     created.date() - timedelta(days=400), "[]", "[]", "", clerk, created,
                     created, None, 1))
    await connection.copy_records_to_table(
        "application", records=apps,
        columns=["number", "person", "region_path", "state", "applicant_name",
                 "applicant_relation", "applicant_phone", "agent_name", "agent_phone",
                 "on_behalf_of", "disabled_since", "materials", "refusal_grounds",
                 "decision_note", "created_by", "created_at", "submitted_at", "decided_at",
                 "version"])
    await connection.execute("ANALYZE")
    await connection.close()
    print(f"{applications:,} applications in {time.monotonic() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/ltc_bench")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=200_000)
    args = parser.parse_args()
    asyncio.run(generate(args.url, args.people, args.applications))


if __name__ == "__main__":
    main()
