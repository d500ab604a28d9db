"""One suite, two engines.

By default every test runs on SQLite. With LTC_TEST_DATABASE_URL=postgresql://… the same tests
run on PostgreSQL instead (and LTC_TEST_BROKER_URL=redis://… adds that broker to the broker
tests). Each test gets a database of its own, copied from a migrated template: a test that
wraps itself in a transaction would hide rollback bugs, since nested transactions are no-ops.

LTC_TEST_REQUIRE_SERVICES=1 (set by CI) turns "service not available, skipped" into a failure.

On PostgreSQL the roles are split as in production: the owner role of LTC_TEST_DATABASE_URL
(ltc_ci) migrates the template and grants APP_ROLE; the code under test connects as APP_ROLE,
which may only append to the audit log (`owner_database_url` is the owner's way in).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from stdnum.cn import ric

from ltc import db, reference, schema
from ltc.accounts import service as accounts
from ltc.agreements.tables import Agreement
from ltc.audit import keys as audit_keys
from ltc.identity import SYSTEM, Role
from ltc.organisations.tables import Organisation
from ltc.regions.tables import Region
from ltc.settings import Settings
from ltc.staff import service as staff

PG_URL = os.environ.get("LTC_TEST_DATABASE_URL")
# The tests' event receivers listen on this machine, which production refuses by default.
os.environ.setdefault("LTC_EVENT_RECEIVER_HOSTS", "127.0.0.1")
APP_ROLE = "ltc_ci_app"  # password = name; .ci/run creates it (CREATE ROLE needs a superuser)
REQUIRE_SERVICES = os.environ.get("LTC_TEST_REQUIRE_SERVICES") == "1"
TEST_PASSWORD = "test-pass-123"
STANDING_AGREEMENT = "TEST-"  # number prefix of the assessment agreements make_user signs
BUREAU_ADDRESS, BUREAU_PHONE = "山东省肥城市测试路1号", "0538-3221234"  # of 370983
FAST_HASH_ITERATIONS = 1_000  # production default is 600,000 (0.25 s a hash)
# ADL 20 (severe), cognition 8 (moderate), perception 8 (mild) → grade 5 under national-2021.
SEVERE_SCORES = {
    "eating": 5, "dressing": 0, "face_mouth_hygiene": 0, "bowel_control": 5,
    "bladder_control": 5, "toileting": 0, "walking": 0, "bed_chair_transfer": 5, "stairs": 0,
    "bathing": 0, "time_orientation": 2, "person_orientation": 3, "place_orientation": 2,
    "memory": 1, "vision": 3, "hearing": 3, "communication": 2,
}


def pytest_report_header(config: pytest.Config) -> str:
    engine = "PostgreSQL " + PG_URL.rsplit("@", 1)[-1] if PG_URL else "SQLite"
    broker = os.environ.get("LTC_TEST_BROKER_URL", "embedded SQLite only")
    return f"LTC test pass: database={engine}; brokers=embedded + {broker}"


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: a required pass must never silently skip."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required test service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_admin_url(url: str, database: str = "postgres") -> str:
    return url.rsplit("/", 1)[0] + "/" + database


async def _pg_execute(sql: str) -> None:
    assert PG_URL
    connection = await asyncpg.connect(_pg_admin_url(PG_URL))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _build_template(url: str) -> None:
    db.bind(db.make_engine(url))
    await schema.migrate()
    await reference.load_reference_data()
    # The bureau contact notices, letters, agreements and statements print (production:
    # 地区管理); tests of its absence clear it (support.cases.clear_bureau_contact).
    await Region.update({Region.bureau_address: BUREAU_ADDRESS,
                         Region.bureau_phone: BUREAU_PHONE}).where(Region.code == "370983")
    if PG_URL:  # table privileges live in the database, so every copy inherits them
        await schema.grant_app_role(APP_ROLE)


def _as_app_role(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{APP_ROLE}:{APP_ROLE}@{rest.rsplit('@', 1)[-1]}"


async def _check_app_role() -> None:
    assert PG_URL
    connection = await asyncpg.connect(_pg_admin_url(PG_URL))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1",
                                          APP_ROLE):
            unavailable(f"PostgreSQL role {APP_ROLE} is missing; as a superuser run: CREATE "
                        f"ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}' (.ci/run does)")
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def session_audit_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chain key of the session: should migrating or reference data ever record an audit
    event, the template's events and every test's verify under the same key."""
    var = tmp_path_factory.mktemp("audit")
    audit_keys.init_keys(Settings.from_env({"LTC_VAR_DIR": str(var)}))
    os.environ["LTC_AUDIT_KEY_FILE"] = str(var / "audit_key")  # tests set their own copy
    return var / "audit_key"


@pytest.fixture(scope="session")
def demo_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One var directory for every `ltc demo` the session starts (tests.support.demo): the
    first start builds the county and keeps it there, the later ones copy it."""
    return tmp_path_factory.mktemp("demo") / "var"


class _SpareDatabases:
    """PostgreSQL test databases copied from the template ahead of need, and dropped after
    use, on a thread of their own. CREATE DATABASE … TEMPLATE writes the template's pages to
    the WAL and waits for the disk (0.2–0.9 s measured, busy machine): a test waiting for it
    adds minutes to the pass, while a spare is ready by the time the next test asks."""

    READY = 2

    def __init__(self, template: str) -> None:
        self.template = template
        self.ready: queue.Queue[str] = queue.Queue(maxsize=self.READY)
        self.used: queue.Queue[str] = queue.Queue()
        self.stopping = threading.Event()
        self.failure: Exception | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._work(),), daemon=True,
                                       name="spare-databases")
        self.thread.start()

    async def _work(self) -> None:
        assert PG_URL
        numbers = itertools.count()
        connection = await asyncpg.connect(_pg_admin_url(PG_URL))
        try:
            while not self.stopping.is_set():
                try:
                    await self._drop_used(connection)
                    if self.ready.full():
                        await asyncio.sleep(0.01)
                        continue
                    name = f"ltc_test_{os.getpid()}_{next(numbers)}"
                    await connection.execute(
                        f"CREATE DATABASE {name} TEMPLATE {self.template}")
                    self.ready.put(name)
                except (OSError, asyncpg.PostgresError) as exc:  # the test waiting reports it
                    self.failure = exc
                    await asyncio.sleep(0.5)
        finally:
            while True:
                try:
                    self.used.put(self.ready.get_nowait())
                except queue.Empty:
                    break
            await self._drop_used(connection)
            await connection.close()

    async def _drop_used(self, connection: asyncpg.Connection) -> None:
        while True:
            try:
                name = self.used.get_nowait()
            except queue.Empty:
                return
            await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def take(self) -> str:
        """A fresh copy of the template (waits for the thread to make one); a copy that
        could not be made fails the test waiting for it, not the ones after."""
        while True:
            try:
                return self.ready.get(timeout=1)
            except queue.Empty:
                failure, self.failure = self.failure, None
                if failure is not None or not self.thread.is_alive():
                    raise RuntimeError("could not copy the test database") from failure

    def give_back(self, name: str) -> None:
        self.used.put(name)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=120)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory, session_audit_key: Path) -> str:
    """A migrated database with reference data, built once per test session."""
    if PG_URL:
        name = f"ltc_test_template_{os.getpid()}"

        async def build() -> None:
            await _check_app_role()
            await _pg_execute(f"DROP DATABASE IF EXISTS {name}")
            await _pg_execute(f"CREATE DATABASE {name}")
            await _build_template(_pg_admin_url(PG_URL, name))

        try:
            asyncio.run(build())
        except (OSError, asyncpg.PostgresError) as exc:
            unavailable(f"PostgreSQL at {PG_URL}: {exc}")
        yield name
        asyncio.run(_pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(_build_template(f"sqlite:///{path}"))
    yield str(path)


@pytest.fixture(scope="session")
def spare_databases(template_database: str) -> _SpareDatabases | None:
    """PostgreSQL: the copies of the template the tests take (None on SQLite)."""
    if not PG_URL:
        yield None
        return
    spares = _SpareDatabases(template_database)
    yield spares
    spares.close()


def _audit_key_files(chain_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's audit keys where the `settings` fixture looks (its LTC_VAR_DIR), in the
    environment of the test and of the processes it starts."""
    var = tmp_path / "var"
    var.mkdir(parents=True, exist_ok=True)
    shutil.copy(chain_key, var / "audit_key")
    for variable, path in (("LTC_AUDIT_KEY_FILE", var / "audit_key"),
                           ("LTC_AUDIT_SIGNING_KEY_FILE", var / "audit_signing_key"),
                           ("LTC_AUDIT_PUBLIC_KEY_FILE", var / "audit_signing_key.pub"),
                           ("LTC_AUDIT_CHECKPOINT_DIR", var / "audit_checkpoints")):
        monkeypatch.setenv(variable, str(path))
    audit_keys.init_keys(Settings.from_env({"LTC_VAR_DIR": str(var)}))


@pytest.fixture
async def owner_database_url(template_database: str, spare_databases: _SpareDatabases | None,
                             session_audit_key: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A fresh database for this test as its owner would reach it; the app role's URL is
    `database_url` (the same on SQLite, which has no roles)."""
    _audit_key_files(session_audit_key, tmp_path, monkeypatch)
    if spare_databases is not None:
        name = await asyncio.to_thread(spare_databases.take)
        url = _pg_admin_url(PG_URL, name)
    else:
        path = tmp_path / "ltc.sqlite3"
        shutil.copy(template_database, path)
        url = f"sqlite:///{path}"
    yield url
    if spare_databases is not None:
        spare_databases.give_back(name)


@pytest.fixture
async def database_url(owner_database_url: str) -> str:
    """A fresh database for this test, bound as the current engine (as the app role)."""
    url = _as_app_role(owner_database_url) if PG_URL else owner_database_url
    # No pool: the app under test runs on another event loop than the test itself, and a
    # pool belongs to one loop. Production pools are exercised by the app and workers.
    db.bind(db.make_engine(url))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env({"LTC_VAR_DIR": str(tmp_path / "var"),
                              "LTC_DATABASE_URL": "sqlite:///" + str(tmp_path / "unused.sqlite3")})
    # The embedded queue file is enough for the web tests; broker tests pick their own.
    return replace(base, database_url=database_url, event_receiver_hosts=("127.0.0.1",),
                   broker_url=f"sqlite:///{tmp_path / 'queue.sqlite3'}",
                   password_iterations=FAST_HASH_ITERATIONS, database_pool_size=0)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    from ltc.app import create_app

    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as test_client:
        yield test_client


async def _ensure_organisation(code: str, kind: str) -> None:
    if not await Organisation.exists().where(Organisation.code == code):
        region = await Region.select(Region.id).where(Region.code == "370983").first()
        await Organisation(code=code, name=f"测试机构{code}", kind=kind,
                           region=region["id"]).save()


async def _ensure_assessment_agreement(code: str) -> None:
    """An ACTIVE assessment agreement for organisation `code` covering every day a test uses,
    unless it has an assessment agreement already: nobody is drawn without one. Numbered
    outside the XY… daily sequence so the agreements tests' numbers are unaffected."""
    organisation = await Organisation.select(Organisation.id, Organisation.region.path).where(
        Organisation.code == code).first()
    if not await Agreement.exists().where((Agreement.kind == "assessment")
                                          & (Agreement.organisation == organisation["id"])):
        await Agreement(number=f"{STANDING_AGREEMENT}{code}"[:24], kind="assessment",
                        region_path=organisation["region.path"],
                        organisation=organisation["id"], starts_on=date(2000, 1, 1),
                        ends_on=date(2099, 12, 31), state="ACTIVE").save()


_STAFF_NUMBERS = itertools.count(1)


def staff_resident_id(n: int) -> str:
    """A valid resident ID, different for every n (born 1970-01-01 + n // 1000 days)."""
    born = date(1970, 1, 1) + timedelta(days=n // 1000)
    body = f"370983{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


async def make_staff_record(user: dict[str, Any], kind: str,
                            until: date = date(2099, 12, 31)) -> dict[str, Any]:
    """The user's staff record (实名制) of `kind`, certificate valid through `until`."""
    n = next(_STAFF_NUMBERS)
    organisation = await Organisation.select(Organisation.code).where(
        Organisation.id == user["organisation"]).first()
    return await staff.create_staff(SYSTEM, {
        "resident_id": staff_resident_id(n), "name": user["display_name"], "kind": kind,
        "certificate_no": f"CERT-{user['username']}", "certificate_until": until.isoformat(),
        "staff_code": f"N370983{n:07d}", "organisation": organisation["code"],
        "username": user["username"]})


async def make_user(role: Role | str, username: str | None = None, region: str = "370983",
                    organisation: str | None = None, *, agreement: bool = True,
                    qualification: str | None = None, qualified_until: date = date(2099, 12, 31),
                    ) -> dict[str, Any]:
    """A user with TEST_PASSWORD; assessors and providers get a test organisation, and an
    assessor's organisation an assessment agreement covering every test day (`agreement`
    False: none is made, and it keeps whatever agreements it has). Assessors and providers
    get a staff record (实名制) certified through 2099 unless told otherwise: assessors as
    评估专家, so every draw finds its expert and two signing experts need no further
    confirmation, providers as nurses (`qualification` names another kind, "" none)."""
    role = Role(role)
    if role.needs_organisation:
        organisation = organisation or ("T-A" if role == Role.assessor else "T-P")
        await _ensure_organisation(organisation, "assessment" if role == Role.assessor
                                   else "provider")
        if role == Role.assessor and agreement:
            await _ensure_assessment_agreement(organisation)
    user = await accounts.create_user(
        SYSTEM, username=username or str(role), display_name=f"测试{role.label}", role=str(role),
        region_code=region, organisation_code=organisation, password=TEST_PASSWORD,
        password_iterations=FAST_HASH_ITERATIONS)
    kind = {Role.assessor: "expert", Role.provider: "nurse"}.get(role, "") if (
        qualification is None) else qualification
    if kind:
        await make_staff_record(user, kind, qualified_until)
    return user


async def csrf_token(client: AsyncTestClient, path: str = "/login") -> str:
    """Load a page so the CSRF cookie is set; forms echo it in `_csrf_token`."""
    await client.get(path)
    return client.cookies.get("ltc_csrf")


async def sign_in(client: AsyncTestClient, username: str, password: str = TEST_PASSWORD,
                  next: str | None = None) -> Any:
    data = {"username": username, "password": password, "_csrf_token": await csrf_token(client)}
    if next is not None:
        data["next"] = next
    return await client.post("/login", data=data, follow_redirects=False)


# Browser tests: the real app in a uvicorn subprocess on the test database, and Chromium.

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def app_env(database_url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    """The environment of an app process on this test's database and the pass's broker."""
    broker = (f"sqlite:///{tmp_path / 'queue.sqlite3'}" if db.is_sqlite()
              else os.environ.get("LTC_TEST_BROKER_URL") or "redis://127.0.0.1:6379/15")
    return {**os.environ, "LTC_DATABASE_URL": database_url, "LTC_VAR_DIR": str(tmp_path / "var"),
            "LTC_SECRET_KEY": "s" * 48, "LTC_DATABASE_POOL_SIZE": "2", "LTC_BROKER_URL": broker,
            **more}


def start_app(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    """`command` serving the app on 127.0.0.1:`port`, returned once /login answers (30 s at
    most); its output is piped."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"server did not start: {process.stdout.read()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_process(database_url: str, tmp_path: Path):
    """The app under uvicorn in a process of its own: (base URL, the process, whose output
    — the access log included — is piped)."""
    port = free_port()
    process = start_app([sys.executable, "-m", "uvicorn", "ltc.app:create_app", "--factory",
                         "--host", "127.0.0.1", "--port", str(port)],
                        app_env(database_url, tmp_path), port)
    base = f"http://127.0.0.1:{port}"
    yield base, process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(server_process) -> str:
    return server_process[0]


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM




@pytest.fixture
async def browser(chromium: str):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def sign_in_page(browser, server: str, username: str, password: str,
                       init_script: str | None = None, **context_options):
    """A fresh browser context (its own cookies; `context_options` such as a phone's
    viewport; `init_script` run on every page first) signed in as `username`."""
    context = await browser.new_context(**context_options)
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    await page.goto(f"{server}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server}/")
    return page
