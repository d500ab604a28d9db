"""The first-day runbook (README "First day on PostgreSQL"), run as written: from an empty
database, the operator's commands set up the region, the first admin, organisations, staff,
users, enrolment and tokens; then the city works — a case is assessed, decided and planned
through the services as the staff would on their pages — and the provider's app logs a visit
with its token, against `ltc serve`. On SQLite in the embedded pass, on PostgreSQL (with the
owner/app role split) in the production pass."""

from __future__ import annotations

import base64
import os
import re
import sys
import uuid
from datetime import datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import (
    APP_ROLE,
    PG_URL,
    _as_app_role,
    _pg_admin_url,
    _pg_execute,
    app_env,
    free_port,
    start_app,
)
from support.cases import Staff, assigned_case, complete_assessment
from support.cli import ltc

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.accounts.service import actor_for_user
from ltc.agreements import service as agreements
from ltc.careplans import service as careplans
from ltc.entitlements import interface as entitlement_summaries
from ltc.entitlements import service as entitlements
from ltc.identity import SYSTEM
from ltc.organisations import interface as organisations
from ltc.people import service as people
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "first-day-2026\n"
BENEFICIARY = "370983194203150263"
TOWNS = """code,name,parent_code
370983001,新城街道,370983
370983001901,幸福新村,370983001
"""
ORGANISATIONS = "\ufeff" + "\n".join([  # as Excel saves "CSV UTF-8"
    "code,national_code,name,category,licence_no,legal_representative,address,contact_name,"
    "contact_phone,service_towns,bank_name,bank_account_name,bank_account_no",
    "ORG-P-101,H37098300101,新城街道社区卫生服务中心,health_centre,PDY37098300101,刘建国,"
    "新城街道龙山路1号,陈护士长,0538-5551234,370983001,中国建设银行肥城支行,"
    "新城街道社区卫生服务中心,6217000000000101", ""])
STAFF = """resident_id,name,kind,certificate_no,certificate_until,staff_code,organisation,username
370983197801120244,李评估,expert,PG-2026-001,2029-12-31,E3709830000001,AO-370983-01,li
370983198003040316,周评估,expert,PG-2026-002,2029-12-31,A3709830000002,AO-370983-01,zhou
37098319900506042X,王丽,nurse,HS-2026-003,2029-12-31,N3709830000003,ORG-P-101,wangli
"""
ENROLMENT = f"""resident_id,insurance_number,name,scheme,region_code,status,start_date,end_date
{BENEFICIARY},3709830009001,赵桂芝,resident,370983,enrolled,2010-01-01,
"""
# The shipped "10+X" package's required items (fixtures/policies/feicheng.json).
REQUIRED_ITEMS = ["B01", "B04", "B08", "B09", "B10", "B11", "B14", "B17", "B20", "B21"]
USERS = [("clerk", "王经办", "clerk", []), ("reviewer", "赵审核", "reviewer", []),
         ("li", "李评估", "assessor", ["--organisation", "AO-370983-01"]),
         ("zhou", "周评估", "assessor", ["--organisation", "AO-370983-01"]),
         ("wangli", "王丽", "provider", ["--organisation", "ORG-P-101"])]


def runbook(files: Path) -> list[list[str]]:
    """The README's commands, in its order, with this test's files."""
    commands = [["audit", "init-keys"], ["migrate"]]
    if PG_URL:
        commands.append(["db", "grant-app-role", APP_ROLE])
    commands += [
        ["region", "import", str(files / "towns.csv"), "--region", "370983", "--dry-run"],
        ["region", "import", str(files / "towns.csv"), "--region", "370983"],
        ["region", "set-bureau", "370983", "--address", "肥城市医疗保障局 新城路100号",
         "--phone", "0538-3221234"],
        ["createuser", "--username", "admin", "--name", "孙管理", "--role", "admin",
         "--region", "370983", "--password-stdin"],
        ["org", "import", str(files / "organisations.csv"), "--region", "370983",
         "--dry-run"],
        ["org", "import", str(files / "organisations.csv"), "--region", "370983"],
        *[["createuser", "--username", username, "--name", name, "--role", role,
           "--region", "370983", *more, "--password-stdin"]
          for username, name, role, more in USERS],
        ["staff", "import", str(files / "staff.csv"), "--dry-run"],
        ["staff", "import", str(files / "staff.csv")],
        ["enrollment", "import", str(files / "enrolment.csv")],
        ["token", "--name", "上门护理App", "--role", "provider", "--region", "370983",
         "--organisation", "ORG-P-101"],
        ["audit", "verify"],
        ["jobs", "list"],
    ]
    return commands


GROUPS = {"audit", "db", "region", "org", "staff", "enrollment", "jobs", "backup"}


def _command_names(commands: list[list[str]]) -> list[str]:
    """"org import", "createuser", …: each command's name, repeats in a row counted once."""
    names = [" ".join(c[:2]) if c[0] in GROUPS else c[0] for c in commands]
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


def test_the_readme_lists_the_runbooks_commands_in_order() -> None:
    """The runbook a newcomer reads is the one this test runs."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## First day on PostgreSQL", 1)[1].split("\n## ", 1)[0]
    written = [line.split()[1:] for line in section.splitlines() if line.startswith("ltc ")]
    ran = runbook(Path("."))
    written = [c for c in written if c[0] != "serve"]  # the test starts `ltc serve` itself
    if not PG_URL:  # roles are PostgreSQL's
        written = [c for c in written if c[0] != "db"]
    assert _command_names(written) == _command_names(ran)


@pytest.fixture
async def empty_database(tmp_path, template_database, monkeypatch):
    """An empty database (PostgreSQL: created by the owner role, the app role apart) and
    the settings an operator would export, also for this process's own audit records."""
    var = tmp_path / "var"
    env = {"LTC_VAR_DIR": str(var), "LTC_PASSWORD_ITERATIONS": "1000",
           "LTC_AUDIT_KEY_FILE": str(var / "audit_key"),
           "LTC_AUDIT_SIGNING_KEY_FILE": str(var / "audit_signing_key"),
           "LTC_AUDIT_PUBLIC_KEY_FILE": str(var / "audit_signing_key.pub"),
           "LTC_AUDIT_CHECKPOINT_DIR": str(var / "audit_checkpoints")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if not PG_URL:
        url = f"sqlite:///{tmp_path / 'ltc.sqlite3'}"
        yield {**env, "LTC_DATABASE_URL": url}, url
        return
    name = f"ltc_first_day_{os.getpid()}"
    await _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await _pg_execute(f"CREATE DATABASE {name}")
    owner = _pg_admin_url(PG_URL, name)
    yield {**env, "LTC_DATABASE_URL": _as_app_role(owner), "LTC_MIGRATION_DATABASE_URL": owner,
           "LTC_BROKER_URL": os.environ.get("LTC_TEST_BROKER_URL") or "redis://127.0.0.1:6379/15",
           "LTC_SECRET_KEY": "k" * 48}, _as_app_role(owner)
    await _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _actor(username: str):
    return await actor_for_user((await accounts.account_by_username(username)).id)


async def test_from_an_empty_database_to_a_provider_logging_a_visit(
        empty_database, tmp_path) -> None:
    env, app_url = empty_database
    files = tmp_path / "files"
    files.mkdir()
    for name, content in (("towns.csv", TOWNS), ("organisations.csv", ORGANISATIONS),
                          ("staff.csv", STAFF), ("enrolment.csv", ENROLMENT)):
        (files / name).write_text(content, encoding="utf-8")
    token = ""
    for command in runbook(files):
        done = ltc(*command, env=env, stdin=PASSWORD if "--password-stdin" in command else None)
        assert done.returncode == 0, f"ltc {' '.join(command)}: {done.stdout}{done.stderr}"
        if command[0] == "token":
            token = done.stdout.strip().splitlines()[-1]

    # The staff at work (their pages call these services), as of ten weeks ago.
    db.bind(db.make_engine(app_url))
    clerk, reviewer = await _actor("clerk"), await _actor("reviewer")
    provider = await organisations.by_code("ORG-P-101")
    started = clock.today()
    with clock.travel_to(datetime.combine(started - timedelta(days=70), time(10),
                                          clock.CHINA)):
        for kind, code, more in (
                ("assessment", "AO-370983-01", {}),
                ("provider", "ORG-P-101", {"home_visits": "true", "account_source": "register",
                                           "confirmed_account": "6217000000000101"})):
            organisation = await organisations.by_code(code)
            draft = await agreements.create_agreement(
                clerk, kind, organisation=organisation.id, starts_on=clock.today(),
                ends_on=clock.today() + timedelta(days=730), **more)
            await agreements.activate(clerk, draft["id"], draft["version"])
        person = await people.register_person(
            clerk, resident_id=BENEFICIARY, name="赵桂芝", phone="13800000000",
            address="幸福新村3组5号", village_code="370983001901")
        staff = Staff(clerk=clerk, reviewer=reviewer,
                      assessors=[await _actor("li"), await _actor("zhou")])
        assessment = await assigned_case(staff, person)
        concluded = await complete_assessment(staff, assessment["id"])
        await entitlements.decide(SYSTEM, concluded["id"], "no_objection", clock.today())
    [entitlement] = await entitlement_summaries.entitlements_of(person["id"])
    plan = await careplans.propose_plan(
        clerk, entitlement.id, care_form="home", provider_id=provider.id,
        family_caregiver_agreement_id=None, items=REQUIRED_ITEMS,
        starts_on=entitlement.starts_on)
    assert plan["state"] == "ACTIVE"

    # The provider's app logs yesterday's visit with its token, against `ltc serve`.
    port = free_port()
    server = start_app([sys.executable, "-m", "ltc.cli", "serve", "--workers", "1",
                        "--port", str(port)], app_env(app_url, tmp_path, **env), port)
    try:
        day = started - timedelta(days=1)
        visit = {"client_uuid": str(uuid.uuid4()), "person_id": person["id"],
                 "staff_id": (await accounts.account_by_username("wangli")).id,
                 "started_at": datetime.combine(day, time(9), clock.CHINA).isoformat(),
                 "ended_at": datetime.combine(day, time(9, 45), clock.CHINA).isoformat(),
                 "items": REQUIRED_ITEMS, "family_confirmed_by": "李明",
                 # the family's signature drawn on the phone (a PNG, Base64)
                 "signature_png": base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as app:
            answer = await app.post("/api/v1/visits", json=visit, timeout=30,
                                    headers={"authorization": f"Bearer {token}"})
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert answer.status_code == 201, answer.text
    logged = await Visit.select().where(Visit.id == answer.json()["id"]).first()
    assert (logged["person"], logged["provider"]) == (person["id"], provider.id)
    verified = ltc("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout
    assert int(re.search(r"(\d+) events verified", verified.stdout)[1]) > 20
