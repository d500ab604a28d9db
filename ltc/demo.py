"""The demo county with a living history (`ltc demo`): fixtures/demo.json built into six months
of work through the real services, each step run "as of" its day (ltc.clock.travel_to), so the
rows, the audit chain and the documents agree with each other.

The builder keeps a diary (`Agenda`): steps at a moment of a day. It walks the days in order;
each day the scheduler's daily and monthly jobs run first (as `ltc scheduler` would have run
them that night: notices close, decisions, payout drafts, spot-check draws), then the day's
steps. Jobs the services put in the outbox run at once, in the same past moment, except the
PDF renders: they are left in the outbox for the demo's worker, which renders them after the
start (a render records the real time it happened). App layer: it calls the contexts' services
as a user's clicks would and reads their tables only to find what to click next.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import struct
import uuid
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from stdnum.cn import ric

from ltc import clock, db
from ltc.accounts import service as accounts
from ltc.identity import PUBLIC, SYSTEM, Actor

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HISTORY_MONTHS = 6  # this month and the five before it
PREHISTORY_DAYS = 700  # 孙秀兰's conclusion: about to expire (24 months)
Step = Callable[[], Awaitable[None]]


def fixture() -> dict[str, Any]:
    return json.loads((FIXTURES / "demo.json").read_text(encoding="utf-8"))


# --- time -----------------------------------------------------------------------------------

def at(day: date, hour: int, minute: int = 0) -> datetime:
    """`hour:minute` Beijing time on `day`, but never later than a minute ago: the demo's
    today is built up to the real moment it starts."""
    moment = datetime.combine(day, time(hour, minute), clock.CHINA)
    latest = datetime.now(UTC) - timedelta(minutes=1)
    return min(moment, latest)


@dataclass
class Agenda:
    """Steps by day and time; a step may add steps to later days."""

    today: date
    steps: dict[date, list[tuple[time, int, Step]]] = field(
        default_factory=lambda: defaultdict(list))
    order: int = 0

    def on(self, day: date, hour: int, minute: int = 0) -> Callable[[Step], Step]:
        def add(step: Step) -> Step:
            if day <= self.today:
                self.order += 1
                self.steps[day].append((time(hour, minute), self.order, step))
            return step
        return add

    def pop(self, day: date) -> list[tuple[time, int, Step]]:
        return sorted(self.steps.pop(day, []), key=lambda s: (s[0], s[1]))


# --- generated media: a short MP4 whose movie header gives the visit's length ---------------

def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def assessment_video(minutes: int, seed: str) -> bytes:
    """An ISO-BMFF file (ftyp, mdat, moov/mvhd) of `minutes` by its movie header; the media
    bytes are derived from `seed`, so each assessment's video is its own file."""
    media = hashlib.sha256(seed.encode()).digest() * 64
    mvhd = _box(b"mvhd", struct.pack(">B3xIIII", 0, 1, 2, 1000, minutes * 60_000) + bytes(80))
    return (_box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41") + _box(b"mdat", media)
            + _box(b"moov", mvhd))


def signature_png(seed: str) -> bytes:
    """A family member's signature as the visit form's pad posts it: a PNG, black strokes
    on white, a wavy line whose shape comes from `seed` (each visit's its own)."""
    width, height = 240, 80
    digest = hashlib.sha256(seed.encode()).digest()
    rows = [bytearray(b"\xff" * width) for _ in range(height)]
    previous = None
    for x in range(20, width - 20):
        y = 25 + digest[(x // 12) % len(digest)] % 30
        low, high = (y, y) if previous is None else (min(previous, y), max(previous, y))
        for row in range(low, high + 3):  # joined to the last column: one stroke
            rows[min(row, height - 1)][x] = 0
        previous = y
    raw = b"".join(b"\x00" + bytes(row) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                                0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


async def _one_chunk(data: bytes) -> Any:
    yield data


# --- the people -----------------------------------------------------------------------------

def resident_id_of(spec: dict[str, Any], serial: int) -> str:
    if spec.get("resident_id"):
        return spec["resident_id"]
    born = date.fromisoformat(spec["born"])
    sequence = (serial * 2 + (1 if spec["sex"] == "M" else 0)) % 1000
    body = f"370983{born:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


@dataclass
class Person:
    spec: dict[str, Any]
    resident_id: str
    person_id: int = 0
    application_id: int = 0
    assessment_id: int = 0
    entitlement_id: int = 0
    plan_id: int = 0
    staff: str = ""  # the provider user who visits


@dataclass
class County:
    spec: dict[str, Any]
    agenda: Agenda
    password: str
    iterations: int
    users: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)
    organisations: dict[str, int] = field(default_factory=dict)
    staff: dict[str, int] = field(default_factory=dict)  # staff record ids by name
    people: list[Person] = field(default_factory=list)
    media_dir: Path = Path()
    objected: int = 0  # the notice entry that draws an objection
    events_client: tuple[Actor, str] | None = None  # the insurance platform's token
    failed_payee: str = ""  # the payee whose payment the bank returned (payee_story)

    def actor(self, username: str) -> Actor:
        return self.actors[username]

    def person(self, name: str) -> Person:
        return next(p for p in self.people if p.spec["name"] == name)


# --- jobs: the scheduler's night and the outbox, run in the past moment --------------------

# Left for the demo's worker: a PDF render is slow, and records when it happened.
DEFERRED_JOBS = ("notices.render_document", "decisions.render_letter",
                 "agreements.render_document", "payouts.render_statement",
                 "payouts.render_summary", "applications.render_materials_notice",
                 "applications.render_refusal_letter", "careplans.issue_letter")


async def run_outbox() -> None:
    """Run every unsent outbox job but the renders now (as the worker would), in order."""
    from ltc.jobs import outbox
    from ltc.jobs.tables import OutboxMessage

    jobs = worker_jobs()
    while True:
        rows = await OutboxMessage.select().where(
            OutboxMessage.sent_at.is_null()
            & OutboxMessage.actor_name.not_in(list(DEFERRED_JOBS))).order_by(OutboxMessage.id)
        if not rows:
            return
        for row in rows:
            await outbox.mark_sent(row)
            job = jobs[row["actor_name"]]
            # Dramatiq wraps an async actor for its worker's loop; run it on this one.
            await job.__wrapped__(*json.loads(row["args"]))


def worker_jobs() -> dict[str, Callable[..., Any]]:
    """The worker's jobs by actor name, from the modules the worker loads. Not from its
    broker's registry: Dramatiq binds an actor to the broker global when its module was
    imported, and a module imported before `workers` installed its broker (a test run may
    do so) is registered with another one."""
    import dramatiq

    import workers

    return {value.actor_name: value.fn for module in vars(workers).values()
            if isinstance(module, ModuleType)
            for value in vars(module).values() if isinstance(value, dramatiq.Actor)}


async def night(day: date) -> None:
    """The scheduler's runs due by 01:30 of `day` (not the audit chain check: the demo's
    scheduler runs today's at start; not the dashboard's figures), then their jobs."""
    import workers
    from ltc.audit import jobs as audit_jobs
    from ltc.dashboard import jobs as dashboard_jobs
    from ltc.jobs import scheduler

    # Not the dashboard's nightly figures either: `build` makes them once, at its end.
    skipped = (audit_jobs.SCHEDULE, dashboard_jobs.SCHEDULE)
    schedules = [s for s in workers.SCHEDULES if s not in skipped]
    with clock.travel_to(at(day, 1, 30)):
        await scheduler.tick(schedules, clock.now(), clock.CHINA)
        await run_outbox()


# --- building -------------------------------------------------------------------------------

async def build(password: str, password_iterations: int, media_dir: Path) -> None:
    """The demo county up to this moment; its videos under `media_dir`."""
    spec = fixture()
    today = clock.today()
    county = County(spec, Agenda(today), password, password_iterations, media_dir=media_dir)
    serial = 0
    for beneficiary in spec["beneficiaries"]:
        serial += 1
        county.people.append(Person(beneficiary, resident_id_of(beneficiary, serial)))
    history = clock.add_months(clock.month_first(today), 1 - HISTORY_MONTHS)
    prehistory = today - timedelta(days=PREHISTORY_DAYS)
    begin = prehistory - timedelta(days=20)

    plan_setup(county, begin, today)
    plan_prehistory(county, prehistory)
    for index in range(HISTORY_MONTHS - 1):
        plan_cohort(county, index, clock.add_months(history, index))
    plan_this_month(county, today)
    plan_payouts(county, history, today)
    plan_payee_story(county, history)
    plan_history_events(county, history, today)
    plan_sanctions(county, today)
    plan_sandbox(county, today)

    day = begin
    while day <= today:
        # A day's work in one transaction: every service's own transaction joins it (as a
        # service calling another does), so SQLite keeps one connection and one commit a day
        # instead of a connection per query. The demo catches no error a service raises
        # after writing, so nothing half-done is ever kept.
        async with db.write_transaction():
            if day >= history:
                await night(day)
            for hour, _, step in county.agenda.pop(day):
                with clock.travel_to(at(day, hour.hour, hour.minute)):
                    await step()
                    await run_outbox()
        day += timedelta(days=1)
    # The dashboard as of now, not as of last night's job (the monthly reports are the job's).
    from ltc.dashboard import service as dashboard

    await dashboard.refresh_all()
    return [{"role": u["role"], "username": u["username"], "password": password}
            for u in spec["users"] if u.get("login")]


def plan_setup(county: County, begin: date, today: date) -> None:
    """Organisations, users, enrolment and the agreements, before anything else."""
    agenda = county.agenda

    @agenda.on(begin, 8)
    async def setup() -> None:
        await _users(county, ("admin",))
        await _registers(county)
        await _event_subscribers(county)
        await _users(county, tuple(u["username"] for u in county.spec["users"]
                                   if u["username"] != "admin"))
        await _staff(county, today)
        await _enrolment(county, exclude_ended=True)

    for training in county.spec["trainings"]:
        @agenda.on(today - timedelta(days=training["days_ago"]), 14)
        async def trained(training: dict[str, Any] = training) -> None:
            from ltc.staff import service as staff

            await staff.add_training(county.actor("clerk"), county.staff[training["who"]], {
                "trained_on": clock.today().isoformat(), "course": training["course"],
                "hours": str(training["hours"]), "issuer": training["issuer"]})

    for organisation in county.spec["organisations"]:
        if change := organisation.get("status"):
            @agenda.on(today - timedelta(days=change["days_ago"]), 11)
            async def status(code: str = organisation["code"],
                             change: dict[str, Any] = change) -> None:
                from ltc.organisations import service as organisations

                admin = county.actor("admin")
                row = await organisations.get(admin, county.organisations[code])
                await organisations.set_status(admin, row["id"], row["version"],
                                               change["status"], change["reason"],
                                               clock.today())

    # Agreements a year at a time, signed on the term's first day.
    start = begin
    while start <= today:
        term_start = start

        @agenda.on(term_start, 9)
        async def sign(term_start: date = term_start) -> None:
            await _sign_agreements(county, term_start)
        start = clock.add_months(start, 12)

    @agenda.on(begin + timedelta(days=200), 9)
    async def enrolment_update() -> None:  # 刘玉珍's enrolment has ended since
        await _enrolment(county, exclude_ended=False)


async def _registers(county: County) -> None:
    """What the admin fills in first: the bureau's contact printed on notices (demo values),
    the assessment hospitals' register details, the care providers registered, and some
    care items' national codes."""
    from ltc.careplans.item_pages import set_national_code
    from ltc.organisations import service as organisations
    from ltc.organisations.rules import Entry
    from ltc.organisations.tables import Organisation
    from ltc.regions import service as regions

    admin, spec = county.actor("admin"), county.spec
    bureau = spec["region_bureau"]
    await regions.set_bureau(admin, "370983", address=bureau["address"], phone=bureau["phone"],
                             code_pattern="")
    for code, details in spec["assessment_organisations"]["entries"].items():
        row = await Organisation.select(Organisation.id, Organisation.name).where(
            Organisation.code == code).first()
        current = await organisations.get(admin, row["id"])
        await organisations.update(admin, row["id"], current["version"], Entry.from_mapping(
            {"code": code, "name": row["name"], **details}))
    for organisation in spec["organisations"]:
        bank = organisation["bank"]
        await organisations.register(admin, Entry.from_mapping({
            **{k: v for k, v in organisation.items() if isinstance(v, str)},
            "bank_name": bank["bank_name"], "bank_account_name": bank["account_name"],
            "bank_account_no": bank["account_no"]}), organisation["region"])
    for row in await Organisation.select(Organisation.id, Organisation.code):
        county.organisations[row["code"]] = row["id"]
    for code, national_code in spec["care_item_codes"]["codes"].items():
        await set_national_code(admin, code, national_code)


async def _event_subscribers(county: County) -> None:
    """Two partners hear of the county's decisions from the first day: the insurance core
    system, paused (its events accumulate, to be caught up on resume), and civil affairs at
    an address that does not resolve (`.invalid`: the running demo's delivery loop records
    its failed attempts, and after 24 hours they are dead letters on the admin's
    workbench)."""
    from ltc.decision_events import service as decision_events

    admin = county.actor("admin")
    everything = [value for value, _ in decision_events.EVENT_TYPES]
    core, _ = await decision_events.create(admin, "市医保核心系统", "https://ybhx.example.cn/ltc/events",
                                           everything)
    await decision_events.pause(admin, core["id"], core["version"])
    await decision_events.create(admin, "民政局救助系统（接收端未开通）",
                                 "http://mzjz.feicheng.invalid/ltc-events",
                                 ["entitlement.started", "entitlement.suspended",
                                  "entitlement.resumed", "entitlement.ended"])


async def _users(county: County, usernames: tuple[str, ...]) -> None:
    for user in county.spec["users"]:
        if user["username"] not in usernames:
            continue
        created = await accounts.create_user(
            SYSTEM, username=user["username"], display_name=user["display_name"],
            role=user["role"], region_code=user["region"],
            organisation_code=user.get("organisation"), password=county.password,
            password_iterations=county.iterations)
        county.users[user["username"]] = created["id"]
        county.actors[user["username"]] = await accounts.actor_for_user(created["id"])


async def _staff(county: County, today: date) -> None:
    """The staff register (实名制): every assessor's, expert's and provider user's record,
    certified from before the history starts (valid_days from today), and the providers'
    staff without an account; registered by the clerk."""
    from ltc.staff import service as staff

    records = [({**user["staff"], "name": user["display_name"],
                 "organisation": user["organisation"], "username": user["username"]})
               for user in county.spec["users"] if user.get("staff")]
    for record in [*records, *county.spec["staff"]]:
        row = await staff.create_staff(county.actor("clerk"), {
            "resident_id": record["resident_id"], "name": record["name"],
            "kind": record["kind"], "certificate_no": record["certificate_no"],
            "certificate_until": (today + timedelta(days=record["valid_days"])).isoformat(),
            "staff_code": record["staff_code"], "organisation": record["organisation"],
            "username": record.get("username", "")})
        county.staff[record["name"]] = row["id"]


async def _enrolment(county: County, *, exclude_ended: bool) -> None:
    """The bureau's enrolment export through the real importer: the fixture file's people
    (one of them ended) and every demo beneficiary."""
    from ltc.enrollment.importer import import_enrollment

    shipped = list(csv.DictReader(io.StringIO(
        (FIXTURES / "demo_enrollment.csv").read_text(encoding="utf-8"))))
    rows = [r for r in shipped if not (exclude_ended and r["status"] == "ended")]
    known = {r["resident_id"] for r in shipped}
    for number, person in enumerate(county.people, start=1):
        if person.resident_id not in known:
            rows.append({"resident_id": person.resident_id,
                         "insurance_number": f"37098300{number:05d}",
                         "name": person.spec["name"], "scheme": "resident",
                         "region_code": "370983", "status": "enrolled",
                         "start_date": "2012-01-01", "end_date": ""})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(shipped[0]))
    writer.writeheader()
    writer.writerows(rows)
    await import_enrollment(SYSTEM, out.getvalue().encode(), filename="demo_enrollment.csv")


async def _sign_agreements(county: County, starts_on: date, only: str | None = None) -> None:
    """A year's assessment, provider and staff agreements, signed by the clerk (`only`: just
    that provider's and its staff's)."""
    from ltc.agreements import service as agreements

    clerk = county.actor("clerk")
    ends_on = clock.period_end(starts_on, 12)
    terms: list[tuple[str, dict[str, Any]]] = [
        ("assessment", {"organisation": county.organisations[code]})
        for code in county.spec["assessment_agreements"]["organisations"] if only is None]
    for organisation in county.spec["organisations"]:
        # The payee: the register's account, confirmed.
        if organisation.get("agreement", True) and only in (None, organisation["code"]):
            terms.append(("provider", {
                "organisation": county.organisations[organisation["code"]],
                "home_visits": organisation["home_visits"],
                "institutional_beds": organisation["institutional_beds"],
                "account_source": "register",
                "confirmed_account": organisation["bank"]["account_no"]}))
    for user in county.spec["users"]:
        if user["role"] == "provider" and only in (None, user["organisation"]):
            terms.append(("staff", {"organisation": county.organisations[user["organisation"]],
                                    "staff": county.users[user["username"]],
                                    "qualification": user["staff"]["kind"]}))
    for kind, fields in terms:
        draft = await agreements.create_agreement(clerk, kind, starts_on=starts_on,
                                                  ends_on=ends_on, **fields)
        await agreements.activate(clerk, draft["id"], draft["version"])


# --- one case, step by step ----------------------------------------------------------------

MATERIALS = ["application_form", "id_card", "insurance_card", "medical_records"]


async def register(county: County, person: Person) -> None:
    from ltc.people import service as people

    spec = person.spec
    row = await people.register_person(
        county.actor("clerk"), resident_id=person.resident_id, name=spec["name"],
        phone="13805380000", address=f"{spec['name']}家", village_code=spec["village"])
    person.person_id = row["id"]
    await _place_home(person)


async def _place_home(person: Person) -> None:
    """The home's map position, as the clerk's map pick would store it (visits check it)."""
    from ltc.people.tables import Person as PersonRow

    lat, lon = home_of(person)
    await PersonRow.update({PersonRow.latitude: lat, PersonRow.longitude: lon}).where(
        PersonRow.id == person.person_id)


def home_of(person: Person) -> tuple[float, float]:
    n = int(person.resident_id[-5:-1])
    return 36.18 + (n % 97) / 2000, 116.76 + (n % 89) / 2000


async def apply(county: County, person: Person, *, accept: bool = True) -> None:
    from ltc.applications import service as applications

    clerk = county.actor("clerk")
    born = date.fromisoformat(person.spec["born"])
    draft = await applications.create_application(
        clerk, person_id=person.person_id, applicant_name=person.spec["name"][0] + "建华",
        applicant_relation="子女", applicant_phone="13905380000",
        disabled_since=max(born, clock.today() - timedelta(days=400)), materials=MATERIALS)
    person.application_id = draft["id"]
    sent = await applications.submit_application(clerk, draft["id"], draft["version"])
    if accept:
        await applications.accept_application(clerk, sent["id"], sent["version"])


async def assign(county: County, person: Person,
                 wanted: Callable[[tuple[int, ...]], bool] | None = None) -> None:
    """Draw two assessors as the clerk's click does, with a seed of the demo's own so that
    the same day builds the same county. `wanted`: the first seed (in a fixed order) whose
    draw (recorded with its seed, replayable) gives the team a demo story needs; none of
    them → StoryNotHeld, never another story told silently."""
    from ltc.applications.tables import Application
    from ltc.assessments import assignment

    row = await Application.select(Application.version, Application.region_path).where(
        Application.id == person.application_id).first()
    seeds = (f"demo-{person.resident_id}-{n}" for n in range(SEED_TRIES if wanted else 1))
    for seed in seeds:
        chosen, _ = await assignment.draw_assessors(
            row["region_path"], on=clock.today(), seed=seed, person_id=person.person_id)
        if wanted is None or wanted(chosen):
            break
    else:
        raise StoryNotHeld(f"{person.spec['name']}: no draw of {SEED_TRIES} seeds on "
                           f"{clock.today()} gives the team the story needs")
    assessment = await assignment.assign_assessors(county.actor("clerk"),
                                                   person.application_id, row["version"], seed)
    person.assessment_id = assessment["id"]


SEED_TRIES = 200


class StoryNotHeld(RuntimeError):
    """The county as built would not tell a story README's walk-through tells."""


async def assess(county: County, assessment_id: int, scores: dict[str, int],
                 guardian: str) -> None:
    """The on-site visit this morning: scores, the guardian, the video, both signatures,
    submitted; then the 专家确认 the team needs from experts who were not there."""
    from ltc.assessments import service as assessments
    from ltc.assessments.tables import Assessment
    from ltc.evidence import service as evidence
    from ltc.evidence import storage

    row = await Assessment.select().where(Assessment.id == assessment_id).first()
    first = await accounts.actor_for_user(row["assessor_1"])
    second = await accounts.actor_for_user(row["assessor_2"])
    started = clock.now() - timedelta(minutes=70)
    ended = started + timedelta(minutes=50)

    async def version() -> int:
        return (await Assessment.select(Assessment.version).where(
            Assessment.id == assessment_id).first())["version"]

    stored = await storage.store(
        _one_chunk(assessment_video(46, f"{assessment_id}-{started.isoformat()}")),
        "video/mp4", county.media_dir)
    await evidence.attach(first, assessment_id, stored, "评估全程.mp4", recorded_at=started)
    await assessments.save_draft(first, assessment_id, expected_version=await version(),
                                 scores=scores, onsite_started_at=started,
                                 onsite_ended_at=ended, guardian_name=guardian,
                                 guardian_relationship="子女", guardian_phone="13905380000")
    await assessments.sign(first, assessment_id, expected_version=await version())
    await assessments.sign(second, assessment_id, expected_version=await version())
    await assessments.submit(first, assessment_id, expected_version=await version())


async def confirm_by_experts(county: County, assessment_id: int) -> None:
    from ltc.assessments import experts

    for username in county.users:
        row = await experts.assessment_row(assessment_id)
        if not (await experts.expert_status(row)).missing:
            return
        actor = county.actor(username)
        if actor.role == "assessor" and await experts.may_confirm(actor, row):
            await experts.confirm(actor, assessment_id, expected_version=row["version"],
                                  note="已查看评估记录和全程视频，同意评估结论")


async def conclude(county: County, assessment_id: int) -> None:
    from ltc.assessments import service as assessments
    from ltc.assessments.tables import Assessment

    row = await Assessment.select(Assessment.version).where(
        Assessment.id == assessment_id).first()
    await assessments.conclude(county.actor("reviewer"), assessment_id,
                               expected_version=row["version"])


async def publish_notices(county: County, people: list[Person]) -> dict[str, int]:
    """One notice batch per town of the given concluded cases, published; returns the
    entry id of each person's case by name."""
    from ltc.notices import service as notices
    from ltc.notices.tables import NoticeEntry

    clerk = county.actor("clerk")
    entries: dict[str, int] = {}
    for town in county.spec["towns"]:
        ids = [p.assessment_id for p in people if p.spec["village"].startswith(town)]
        if not ids:
            continue
        batch = await notices.create_batch(clerk, town_code=town, assessment_ids=ids)
        await notices.publish(clerk, batch["id"], batch["version"])
        for row in await NoticeEntry.select(NoticeEntry.id, NoticeEntry.assessment).where(
                NoticeEntry.batch == batch["id"]):
            person = next(p for p in people if p.assessment_id == row["assessment"])
            entries[person.spec["name"]] = row["id"]
    return entries


async def entitlement_of(person: Person) -> int:
    from ltc.entitlements.tables import Entitlement

    row = await Entitlement.select(Entitlement.id).where(
        Entitlement.person == person.person_id).order_by(Entitlement.id,
                                                         ascending=False).first()
    return row["id"] if row else 0


PROVIDER_OF_TOWN = {"370983001": ("ORG-P-001", ("provider", "carer")),
                    "370983002": ("ORG-P-002", ("provider2", "carer2")),
                    "370983101": ("ORG-P-003", ("provider3", "carer3"))}


async def care_plan(county: County, person: Person) -> None:
    """The plan for the entitlement: a provider's home visits (proposed by the provider's
    nurse, confirmed by the clerk), the family caregiver's subsidy (agreement, then the
    clerk's plan), or a bed at the institution (the clerk's plan, then the admission)."""
    from ltc.agreements import service as agreements
    from ltc.careplans import service as careplans
    from ltc.entitlements.tables import Entitlement
    from ltc.policy.service import policy_in_force
    from ltc.providers import service as providers

    person.entitlement_id = await entitlement_of(person)
    if not person.entitlement_id:
        return  # not eligible (中度失能 or lower): the decision letter says so
    held = await Entitlement.select().where(Entitlement.id == person.entitlement_id).first()
    if held["state"] == "ENDED":
        return
    clerk = county.actor("clerk")
    policy = (await policy_in_force(held["region_path"], clock.today())).policy
    town = person.spec["village"][:9]
    code, staff = PROVIDER_OF_TOWN[town]
    n = int(person.resident_id[-4:-1])
    items = [*policy.care_required, *policy.care_optional[n % 5: n % 5 + 2]]
    starts_on = max(held["starts_on"], clock.today())
    care = person.spec["care"]
    if care == "institution":
        code = "ORG-P-003"
        plan = await careplans.propose_plan(
            clerk, person.entitlement_id, care_form="institution",
            provider_id=county.organisations[code], family_caregiver_agreement_id=None,
            items=items, starts_on=starts_on, note="入住潮泉镇卫生院护理床位")
        person.plan_id = plan["id"]

        @county.agenda.on(starts_on, 10)
        async def admitted() -> None:  # registered on the day the person moves in
            await providers.admit(clerk, person.entitlement_id, county.organisations[code],
                                  starts_on)
        return
    if care == "family":
        caregiver = await agreements.create_agreement(
            clerk, "caregiver", beneficiary=person.person_id,
            caregiver_name=person.spec["name"][0] + "建华",
            caregiver_resident_id=_caregiver_id(person), caregiver_phone="13905380000",
            relationship="子女", bank_name="肥城农村商业银行",
            bank_account=f"62140000{person.person_id:011d}", trained_on=clock.today(),
            starts_on=starts_on, ends_on=clock.period_end(starts_on, 12))
        await agreements.activate(clerk, caregiver["id"], caregiver["version"])
        plan = await careplans.propose_plan(
            clerk, person.entitlement_id, care_form="home", provider_id=None,
            family_caregiver_agreement_id=caregiver["id"], items=items, starts_on=starts_on,
            note="家属护理，子女照护")
        person.plan_id = plan["id"]
        return
    nurse = county.actor(staff[n % 2])
    proposed = await careplans.propose_plan(
        nurse, person.entitlement_id, care_form="home", provider_id=county.organisations[code],
        family_caregiver_agreement_id=None, items=items, starts_on=starts_on,
        note="已与家属当面确认服务项目和上门时间")
    confirmed = await careplans.confirm_plan(clerk, proposed["id"], proposed["version"])
    person.plan_id = confirmed["id"]
    person.staff = staff[n % 2]


def _caregiver_id(person: Person) -> str:
    """The family caregiver (a son or daughter, born 1975) of the beneficiary."""
    body = f"3709831975{person.resident_id[10:14]}{person.resident_id[14:17]}"
    return body + ric.calc_check_digit(body + "0")


async def visit(county: County, person: Person, *, minutes: int = 50,
                far: bool = False) -> None:
    """A home visit this morning by the plan's staff member, confirmed by the family's
    signature on the staff member's phone."""
    from ltc.careplans.tables import CarePlan
    from ltc.visits import logging as visits

    plan = await CarePlan.select(CarePlan.items).where(CarePlan.id == person.plan_id).first()
    lat, lon = home_of(person)
    if far:
        lat += 0.05  # some 5 km away: flagged for the reviewer
    ended = clock.now() - timedelta(minutes=5)
    started = ended - timedelta(minutes=minutes)
    await visits.log_visit(
        county.actor(person.staff), client_uuid=uuid.uuid5(
            uuid.NAMESPACE_URL, f"ltc-demo/{person.resident_id}/{started.isoformat()}"),
        person_id=person.person_id, started_at=started, ended_at=ended,
        checkin_latitude=lat + 0.0004, checkin_longitude=lon,
        items=json.loads(plan["items"]), family_confirmed_by=person.spec["name"][0] + "建华",
        signature_png=signature_png(f"{person.resident_id}/{started.isoformat()}"))


# --- the story ------------------------------------------------------------------------------

def scores_of(county: County, person: Person) -> dict[str, int]:
    return county.spec["profiles"][person.spec["profile"]]


def plan_case(county: County, person: Person, applied: date, *, concluded: bool = True,
              wanted: Callable[[tuple[int, ...]], bool] | None = None) -> None:
    """Register and apply on `applied`, assessed 3 days later, concluded 2 days after."""
    agenda = county.agenda

    @agenda.on(applied, 9, 30)
    async def intake() -> None:
        await register(county, person)
        await apply(county, person)
        await assign(county, person, wanted)

    @agenda.on(applied + timedelta(days=3), 11)
    async def onsite() -> None:
        await assess(county, person.assessment_id, scores_of(county, person),
                     person.spec["name"][0] + "建华")

    if concluded:
        @agenda.on(applied + timedelta(days=4), 15)
        async def review() -> None:
            await confirm_by_experts(county, person.assessment_id)
            await conclude(county, person.assessment_id)


def plan_prehistory(county: County, day: date) -> None:
    """孙秀兰: concluded and decided 700 days ago, cared for at home since."""
    sun = county.person("孙秀兰")
    plan_case(county, sun, day - timedelta(days=6))

    @county.agenda.on(day + timedelta(days=1), 10)
    async def notice() -> None:
        await publish_notices(county, [sun])

    @county.agenda.on(day + timedelta(days=8), 0, 10)
    async def closed() -> None:  # the daily job, before the demo's scheduler history starts
        from ltc.notices import service as notices

        await notices.close_due(clock.today())

    plan_care(county, [sun], clock.next_month(day + timedelta(days=8)))


def plan_care(county: County, people: list[Person], month: date) -> None:
    """Care plans in the last days before `month` (when the entitlements start)."""
    @county.agenda.on(month - timedelta(days=5), 10)
    async def plans() -> None:
        for person in people:
            await care_plan(county, person)


def plan_cohort(county: County, index: int, month: date) -> None:
    """A month's applicants: intake on the 3rd, notice on the 10th (closed by the scheduler
    after the 5-day period), plans before the next month. The third month's notice draws an
    objection: re-assessed by the other organisation's assessors, decided at once."""
    people = [p for p in county.people if p.spec["cohort"] == index]
    for n, person in enumerate(people):
        if index == 2 and n == 0:
            plan_case(county, person, month.replace(day=3), wanted=lambda chosen: len(
                {_organisation_of(county, u) for u in chosen}) == 1)
        else:
            plan_case(county, person, month.replace(day=3 + n % 3))

    @county.agenda.on(month.replace(day=10), 10)
    async def notice() -> None:
        entries = await publish_notices(county, people)
        if index == 2:
            county.objected = entries[people[0].spec["name"]]

    if index == 2:
        objected = people[0]

        @county.agenda.on(month.replace(day=12), 20, 15)
        async def objection() -> None:
            from ltc.notices import service as notices

            await notices.record_objection(
                PUBLIC, county.objected, objector_name="王建国",
                objector_phone="13912345678", relation="邻居",
                reason="被评估人平时能自己下地干农活、赶集，和评估结论不符，请重新评估。",
                channel="online", key="demo-neighbour")

        @county.agenda.on(month.replace(day=19), 10)
        async def reassessed() -> None:
            from ltc.assessments.tables import Assessment

            again = await Assessment.select(Assessment.id).where(
                (Assessment.application == objected.application_id)
                & (Assessment.kind == "reassessment")).first()
            await assess(county, again["id"], scores_of(county, objected),
                         objected.spec["name"][0] + "建华")
            await confirm_by_experts(county, again["id"])
            await conclude(county, again["id"])

    plan_care(county, people, clock.next_month(month))


def _organisation_of(county: County, user_id: int) -> str:
    username = next(name for name, uid in county.users.items() if uid == user_id)
    return next(u["organisation"] for u in county.spec["users"] if u["username"] == username)


def plan_this_month(county: County, today: date) -> None:
    """This month's applicants at every stage, relative to today: three on a notice that is
    still open, two concluded and waiting for a notice, 孙秀珍 waiting for 吴专家's 专家确认,
    one waiting for the reviewer, two assigned and not yet visited, one waiting to be
    accepted."""
    people = [p for p in county.people if p.spec["cohort"] == 5]
    noticed, waiting, review, assigned, accept = (people[0:3], people[3:5], people[5:6],
                                                 people[6:8], people[8:9])
    for person in noticed:
        plan_case(county, person, today - timedelta(days=10))
    for person in waiting:
        plan_case(county, person, today - timedelta(days=8))
    for person in review:  # two experts on site: the reviewer may conclude at once
        plan_case(county, person, today - timedelta(days=5), concluded=False,
                  wanted=lambda chosen: all(_is_expert(county, u) for u in chosen))

    @county.agenda.on(today - timedelta(days=2), 10)
    async def notice() -> None:
        await publish_notices(county, noticed)

    for person in assigned:
        @county.agenda.on(today - timedelta(days=2), 9, 30)
        async def intake(person: Person = person) -> None:
            await register(county, person)
            await apply(county, person)
            await assign(county, person)

    for person in accept:
        @county.agenda.on(today - timedelta(days=1), 9, 30)
        async def filed(person: Person = person) -> None:
            await register(county, person)
            await apply(county, person, accept=False)

    # 孙秀珍, visited yesterday: one expert on site, so 吴专家 (not on the team) confirms.
    plan_case(county, county.person("孙秀珍"), today - timedelta(days=4), concluded=False,
              wanted=lambda chosen: county.users["expert"] not in chosen and sum(
                  _is_expert(county, u) for u in chosen) == 1)


def _is_expert(county: County, user_id: int) -> bool:
    username = next(name for name, uid in county.users.items() if uid == user_id)
    user = next(u for u in county.spec["users"] if u["username"] == username)
    return user.get("staff", {}).get("kind") == "expert" and user["staff"]["valid_days"] > 0


def plan_payouts(county: County, history: date, today: date) -> None:
    """Each month's draft is made and computed by the scheduler on the 1st; the clerk
    submits it on the 3rd, the reviewer approves on the 4th, the clerk exports on the 5th and
    imports the bank's result on the 8th. Last month's draft waits: 张护理 declared
    (申报) 新城街道社区卫生服务中心's lines, 刘护理 disputed one of 老城街道's, and the clerk's
    first review (初审) of it is to do before the batch can be submitted."""
    last = clock.previous_month(today)
    month = clock.previous_month(history)
    while month <= last:
        paid_in = clock.next_month(month)
        if month == last:
            plan_declarations(county, month, min(paid_in + timedelta(days=1), today))
            break

        @county.agenda.on(paid_in + timedelta(days=2), 10)
        async def submit(month: date = month) -> None:
            from ltc.payouts import service as payouts

            batch = await _batch(month)
            await payouts.submit(county.actor("clerk"), batch["id"], batch["version"])

        @county.agenda.on(paid_in + timedelta(days=3), 10)
        async def approve(month: date = month) -> None:
            from ltc.payouts import service as payouts

            batch = await _batch(month)
            await payouts.approve(county.actor("reviewer"), batch["id"], batch["version"])

        @county.agenda.on(paid_in + timedelta(days=4), 10)
        async def export(month: date = month) -> None:
            from ltc.payouts import service as payouts

            batch = await _batch(month)
            await payouts.export(county.actor("clerk"), batch["id"], batch["version"])

        @county.agenda.on(paid_in + timedelta(days=7), 15)
        async def reconcile(month: date = month) -> None:
            from ltc.payouts import service as payouts
            from ltc.payouts.tables import Payment

            batch = await _batch(month)
            payments = await Payment.select(Payment.reference, Payment.payee_key).where(
                (Payment.batch == batch["id"])
                & Payment.status.not_in(["offset", "unpayable"])).order_by(
                Payment.reference)
            if not payments:
                return
            failed = _failed_payment(county, month, history, payments)
            lines = ["payment_reference,status,reason"] + [
                f"{p['reference']},failed,{county.spec['payee_story']['failed_caregiver']['reason']}"
                if p is failed else f"{p['reference']},paid," for p in payments]
            await payouts.reconcile(county.actor("clerk"), batch["id"],
                                    ("\n".join(lines) + "\n").encode())
            if failed is not None:
                county.failed_payee = failed["payee_key"]
        month = paid_in


def plan_sandbox(county: County, today: date) -> None:
    """The admin enters next month's draft policy with a higher family subsidy (450 → 600
    元); the reviewer replays last month under it in 政策沙盘, and the run is finished by the
    time anyone signs in."""

    @county.agenda.on(today, 9)
    async def draft_and_replay() -> None:
        from ltc.payouts import sandbox
        from ltc.policy import service as policies
        from ltc.policy.rules import policy_as_json

        in_force = await policies.policy_in_force("370983", today)
        draft = await policies.add_version(
            county.actor("admin"), "370983", clock.next_month(clock.month_first(today)),
            {**policy_as_json(in_force.policy), "family_subsidy_fen": 60000},
            note="草案：家庭护理补贴由每月450元提高到600元（政策沙盘试算用）")
        await sandbox.start(county.actor("reviewer"), "370983", clock.previous_month(today),
                            draft["id"])


def plan_declarations(county: County, month: date, on: date) -> None:
    """The providers read last month's draft: one declares its lines, another disputes the
    first of its home-visit lines (a visit it says was done and not counted)."""

    @county.agenda.on(on, 9)
    async def declare_and_dispute() -> None:
        from ltc.payouts import declarations, rules
        from ltc.payouts import service as payouts

        batch = await _batch(month)
        declaring, disputing = county.actor("provider"), county.actor("provider2")
        lines = await declarations.payee_lines(
            batch["id"], declarations.organisation_payee(declaring.organisation_id))
        disputed = [line for line in await declarations.payee_lines(
            batch["id"], declarations.organisation_payee(disputing.organisation_id))
            if line["benefit"] == "home_visit"]
        if not lines or not disputed:
            raise StoryNotHeld(f"the draft of {month} lacks the providers' lines to declare")
        await payouts.declare(declaring, batch["id"], rules.lines_fingerprint(lines))
        await payouts.dispute(disputing, batch["id"], disputed[0]["id"],
                              "本月还有一次上门服务已完成并经家属确认，明细未计费，请核实")


FAILED_MONTH = 1  # the history month whose payment to a family caregiver comes back failed


def _failed_payment(county: County, month: date, history: date,
                    payments: list[dict[str, Any]]) -> dict[str, Any] | None:
    if month != clock.add_months(history, FAILED_MONTH):
        return None
    caregivers = [p for p in payments if p["payee_key"].startswith("cg:")]
    if not caregivers:
        raise StoryNotHeld(f"no family caregiver was paid for {month}")
    return caregivers[0]


def plan_sanctions(county: County, today: date) -> None:
    """21号文: the register's suspended home-care agency (ORG-P-004) on the public list of
    sanctioned organisations, and 老城街道社区卫生服务中心 (ORG-P-002) giving notice of its exit
    this morning, its clients' handover worklist open for the clerk — 新城街道社区卫生服务中心,
    which has renewed its agreements for the next year, proposed to take them over."""
    from ltc.agreements import service as agreements
    from ltc.sanctions import service as sanctions

    @county.agenda.on(today, 8, 30)
    async def sanctioned() -> None:
        clerk = county.actor("clerk")
        renewing = county.organisations["ORG-P-001"]
        current = (await agreements.running_of(renewing, ("provider",)))[-1]
        await _sign_agreements(county, current["ends_on"] + timedelta(days=1), "ORG-P-001")
        await sanctions.record_sanction(clerk, {
            "target": "organisation", "party": county.organisations["ORG-P-004"],
            "measure": "suspend", "category": "unqualified",
            "reason": "第三季度检查发现护理员未持证上岗", "legal_basis": "服务协议第十五条；21号文",
            "starts_on": today - timedelta(days=40),
            "ends_on": clock.add_months(today - timedelta(days=40), 3) - timedelta(days=1)})
        await sanctions.give_notice(clerk, {
            "organisation": county.organisations["ORG-P-002"],
            "exit_on": clock.add_months(today, 3), "reason": "机构调整，不再提供居家上门护理"})


def plan_payee_story(county: County, history: date) -> None:
    """ORG-P-002's agreement amended mid-month (a new per-visit rate); the family caregiver
    whose payment failed (account closed) gives the new account, by an amendment the day
    after the bank's result, and the next batch pays what was owed with the month's own."""
    from ltc.agreements import service as agreements
    from ltc.agreements.tables import Agreement

    story = county.spec["payee_story"]
    change = story["rate_change"]
    month = clock.add_months(history, change["month"])

    @county.agenda.on(month.replace(day=change["signed_day"]), 10)
    async def new_rate() -> None:
        row = await Agreement.select(Agreement.id, Agreement.version).where(
            (Agreement.kind == "provider") & (Agreement.state == "ACTIVE")
            & (Agreement.organisation == county.organisations[change["organisation"]])).first()
        await agreements.amend(county.actor("clerk"), row["id"], row["version"],
                               effective_from=month.replace(day=change["day"]),
                               reason=change["reason"], visit_rate_fen=change["visit_rate_fen"])

    result_day = clock.add_months(history, FAILED_MONTH + 1) + timedelta(days=7)

    @county.agenda.on(result_day + timedelta(days=1), 10)
    async def new_account() -> None:
        if not county.failed_payee:
            raise StoryNotHeld("no payment to a family caregiver failed at the bank")
        row = await Agreement.select(Agreement.id, Agreement.version).where(
            (Agreement.kind == "caregiver") & (Agreement.state == "ACTIVE")
            & (Agreement.caregiver_resident_id == county.failed_payee[3:])).first()
        await agreements.amend(
            county.actor("clerk"), row["id"], row["version"], effective_from=clock.today(),
            reason="银行退回：原账户已销户；照护者提供新开立的账户，未付款项随下月结算补发",
            bank_name=story["failed_caregiver"]["new_bank"],
            bank_account=f"6210985{county.failed_payee[-11:-1]}")


async def _batch(month: date) -> dict[str, Any]:
    from ltc.payouts.tables import PayoutBatch

    return await PayoutBatch.select().where(PayoutBatch.month == month).first()


def plan_history_events(county: County, history: date, today: date) -> None:
    """Visits every week, hospital stays, surveys, spot-check findings, return-visit calls,
    a deposit released, and last of all the corrected ruleset in force from today."""
    agenda = county.agenda
    day = history
    while day <= today:
        if day.day in VISIT_DAYS and day < today:
            @agenda.on(day, 8)
            async def visits(day: date = day) -> None:
                await _visits(county, day)
        if day.day == 25:
            @agenda.on(day, 16)
            async def surveys() -> None:
                await _surveys(county)
        if day.day == 20 and day < clock.previous_month(today):
            @agenda.on(day, 14)
            async def findings() -> None:
                await _spot_check_findings(county)
        if day.day == 20 and day < clock.month_first(today):
            @agenda.on(day, 15)
            async def calls() -> None:  # the sample drawn on this month's 1st
                await _return_visit_results(county, OLDER_CALLS)
        day += timedelta(days=1)

    @agenda.on(history + timedelta(days=95), 11)
    async def deposit() -> None:
        from ltc.payouts import service as payouts

        organisation = county.organisations["ORG-P-002"]
        balance = await payouts.deposit_balance(organisation)
        if balance:
            await payouts.settle_deposit(
                county.actor("reviewer"), organisation, "released", balance // 2,
                "季度考核合格，按协议退还部分质量保证金")

    _plan_hospital(county, history, today)

    @agenda.on(today, 9)
    async def last_months_calls() -> None:
        # Last month's sample (drawn on the 1st): two calls made, the rest for the clerk.
        await _return_visit_results(county, LAST_MONTHS_CALLS)
    # Two days back, so last night's run has found it whatever the hour the demo starts:
    # before 01:30 today's run has not happened yet (`at` never passes the real moment).
    @agenda.on(today - timedelta(days=2), 15)
    async def planted() -> None:
        await _planted_pattern(county)

    @agenda.on(today, 8)
    async def corrected_ruleset() -> None:
        # The corrected national-2021 (version 2) in force from today, set as an admin would
        # (audited): earlier conclusions were graded by version 1 (改判影响).
        from ltc.assessments.rulesets import activate

        await activate(county.actor("admin"), "national-2021", 2, clock.today(),
                       "演示：按标准原表更正分段")


VISIT_DAYS = (4, 11, 18, 25)  # the first 2, 3 or 4 of them: the grade's monthly visits
QUOTA = {3: 2, 4: 3, 5: 4}


async def _visits(county: County, day: date) -> None:
    """Each home-visit plan in force gets its monthly quota; one visit in eleven is short or
    logged far from home, and waits for the reviewer, who decides those older than a week."""
    from ltc.careplans.service import plan_on
    from ltc.visits import review as reviews
    from ltc.visits.tables import Visit

    for number, person in enumerate(county.people):
        if not person.staff or not person.entitlement_id:
            continue
        plan = await plan_on(person.entitlement_id, day)
        if plan is None or plan["id"] != person.plan_id:
            continue
        if day.day not in VISIT_DAYS[:QUOTA.get(await _grade(person), 0)]:
            continue
        odd = (day.toordinal() + number) % 11 == 0
        with clock.travel_to(at(day, 9 + number % 8, 10)):
            await visit(county, person, minutes=20 if odd and number % 2 else 50,
                        far=odd and not number % 2)
    week_ago = at(day - timedelta(days=7), 0)
    flagged = await Visit.select(Visit.id).where(
        (Visit.review == "flagged") & (Visit.started_at < week_ago))
    for n, row in enumerate(flagged):
        accept = n % 3 != 2
        await reviews.review(county.actor("reviewer"), row["id"],
                             "accept" if accept else "reject",
                             "已电话回访家属，服务属实" if accept else
                             "回访家属称当日未上门服务，不予结算")


async def _planted_pattern(county: County) -> None:
    """For the reviewer's 稽核 report (found by the night's run): one staff member logs two
    visits to different households, ten minutes apart but 30 km apart, with the same
    signature image — impossible travel, and a confirmation reused across households."""
    from ltc.errors import DomainError
    from ltc.visits import logging as visits

    served: dict[int, list[Person]] = {}
    for person in county.people:
        if person.staff and person.entitlement_id and person.plan_id:
            served.setdefault(person.staff, []).append(person)
    pair = next((people[:2] for people in served.values() if len(people) >= 2), None)
    if pair is None:
        return
    signature = signature_png("ltc-demo/planted")
    ended = clock.now() - timedelta(hours=2)
    for n, person in enumerate(pair):
        started = ended - timedelta(minutes=50) + timedelta(minutes=60 * n)
        lat, lon = home_of(person)
        try:
            await visits.log_visit(
                county.actor(person.staff), client_uuid=uuid.uuid5(
                    uuid.NAMESPACE_URL, f"ltc-demo/planted/{person.resident_id}"),
                person_id=person.person_id, started_at=started,
                ended_at=started + timedelta(minutes=50),
                checkin_latitude=lat + 0.27 * n, checkin_longitude=lon,
                items=json.loads(await _plan_items(person)),
                family_confirmed_by=person.spec["name"][0] + "建华", signature_png=signature)
        except DomainError:  # the plan ended or the staff member cannot log: nothing planted
            return


async def _plan_items(person: Person) -> str:
    from ltc.careplans.tables import CarePlan

    return (await CarePlan.select(CarePlan.items).where(CarePlan.id == person.plan_id)
            .first())["items"]


async def _grade(person: Person) -> int:
    from ltc.entitlements.tables import Entitlement

    row = await Entitlement.select(Entitlement.grade).where(
        Entitlement.id == person.entitlement_id).first()
    return row["grade"] if row else 0


async def _surveys(county: County) -> None:
    from ltc.providers import service as providers

    served = [p for p in county.people if p.staff and p.entitlement_id]
    for n, person in enumerate(served[:4]):
        code = PROVIDER_OF_TOWN[person.spec["village"][:9]][0]
        await providers.record_survey(
            county.actor("clerk"), county.organisations[code], person.person_id,
            clock.today(), 5 - n % 2, "护理员守时，服务认真" if n % 2 == 0 else "总体满意")


async def _spot_check_findings(county: County) -> None:
    """郑专家 records the drawn checks as conform; the latest month's stay pending."""
    from ltc.errors import DomainError
    from ltc.spotchecks import service as spotchecks
    from ltc.spotchecks.tables import SpotCheck

    for check in await SpotCheck.select().where(SpotCheck.state == "PENDING"):
        try:
            await spotchecks.record_finding(county.actor("checker"), check["id"],
                                            check["version"], finding="conform",
                                            notes="评分与上门评估记录、视频一致")
        except DomainError:
            continue


# The clerk's return-visit results, in turn: (outcome, satisfaction, note).
OLDER_CALLS = (("confirmed", "5", ""), ("confirmed", "4", "护理员很细心"),
               ("unreachable", "", "两次拨打无人接听"), ("confirmed", "5", ""))
LAST_MONTHS_CALLS = (("confirmed", "5", "家属说护士每次都按时来"),
                     ("denied", "2", "家属说这天没有人上门，只是电话问了情况"))


async def _return_visit_results(county: County, results: tuple[tuple[str, str, str], ...]
                                ) -> None:
    """The clerk calls back the drawn visits: every waiting one of the months before
    (cycling through `results`), or only as many as `results` of the latest month."""
    from ltc.returnvisits import service as returnvisits
    from ltc.returnvisits.tables import ReturnVisit

    waiting = await ReturnVisit.select(ReturnVisit.id, ReturnVisit.version).where(
        ReturnVisit.state == "PENDING").order_by(ReturnVisit.id)
    if results is LAST_MONTHS_CALLS:
        waiting = waiting[:len(results)]
    for n, call in enumerate(waiting):
        outcome, satisfaction, note = results[n % len(results)]
        await returnvisits.record_result(county.actor("clerk"), call["id"], call["version"],
                                         outcome=outcome, satisfaction=satisfaction, note=note)


def _plan_hospital(county: County, history: date, today: date) -> None:
    """Hospital stays reported by the medical insurance platform's events (signed, through
    the real receiver): one stay over and done, one still in hospital."""
    agenda = county.agenda
    home_cared = [p for p in county.people if p.spec["cohort"] == 0 and p.spec["care"] == "home"]
    stays = [(home_cared[0], history + timedelta(days=70), history + timedelta(days=78)),
             (home_cared[1], today - timedelta(days=6), None)]

    for person, admitted, discharged in stays:
        @agenda.on(admitted, 18)
        async def admit(person: Person = person, admitted: date = admitted) -> None:
            await _event(county, person, "hospital_admitted", admitted)

        if discharged:
            @agenda.on(discharged, 18)
            async def discharge(person: Person = person, discharged: date = discharged,
                                ) -> None:
                await _event(county, person, "hospital_discharged", discharged)


async def _event(county: County, person: Person, kind: str, day: date) -> None:
    from ltc.enrollment import events

    client = county.events_client
    if client is None:
        token, row = await accounts.issue_token(
            county.actor("admin"), name="医保信息平台（演示）", role="clerk",
            region_code="370983", organisation_code=None)
        client = (await accounts.actor_for_token(token), row["signing_secret"])
        county.events_client = client
    body = json.dumps({"event_id": f"{kind}-{person.resident_id}-{day.isoformat()}",
                       "type": kind, "resident_id": person.resident_id,
                       "effective_date": day.isoformat()}).encode()
    await events.receive(client[0], body, events.sign(client[1], body))


# --- the built county, kept for the day -----------------------------------------------------
#
# Building takes minutes (on two busy cores); the county depends only on the code, the
# fixtures and the day. So the built database, its media and the audit keys its chain is
# keyed with are kept under var/demo-cache/<key>/ and copied at the next start that day: the
# audit chain and the evidence hashes stay intact, the start signs a fresh checkpoint, and
# every user gets a fresh random password (audited).

ROOT = Path(__file__).resolve().parent.parent
CACHE_INPUTS = ("ltc", "fixtures", "templates")
THROWAWAY_HASH_ITERATIONS = 1_000


def cache_key(password_iterations: int) -> str:
    digest = hashlib.sha256(f"{clock.today().isoformat()}|{password_iterations}".encode())
    for top in CACHE_INPUTS:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _kept_files(settings: Any) -> dict[str, Path]:
    return {"ltc.sqlite3": settings.sqlite_path, "audit_key": settings.audit_key_file,
            "audit_signing_key": settings.audit_signing_key_file,
            "audit_signing_key.pub": settings.audit_public_key_file}


def restore(settings: Any, key: str) -> bool:
    """Copy the county built today into place, if there is one; True when copied."""
    import shutil

    kept = settings.var_dir / "demo-cache" / key
    if not (kept / "complete").exists():
        return False
    for name, target in _kept_files(settings).items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        shutil.copy2(kept / name, target)
    shutil.rmtree(settings.media_dir, ignore_errors=True)
    shutil.copytree(kept / "media", settings.media_dir)
    return True


def keep(settings: Any, key: str) -> None:
    """Keep the county just built (the only one kept: older days' go)."""
    import shutil
    import sqlite3

    root = settings.var_dir / "demo-cache"
    shutil.rmtree(root, ignore_errors=True)
    kept = root / key
    kept.mkdir(parents=True)
    for name, source in _kept_files(settings).items():
        if name == "ltc.sqlite3":  # a consistent copy of the live (WAL) database
            with sqlite3.connect(source) as live, sqlite3.connect(kept / name) as copy:
                live.backup(copy)
        else:
            shutil.copy2(source, kept / name)
    shutil.copytree(settings.media_dir, kept / "media")
    (kept / "complete").touch()


async def prepare(settings: Any, restored: bool, migrate: Callable[[], Awaitable[None]],
                  password: str) -> list[dict[str, str]]:
    """The demo's database for today: `restored` (see restore) or built now and kept; then
    everyone's password is the fresh `password`."""
    import shutil

    if not restored:
        shutil.rmtree(settings.media_dir, ignore_errors=True)  # the last demo's files
        await migrate()
        # The build's password is random and replaced at every start (below, at the real
        # cost): hashing it at the production cost would only add seconds to the build.
        await build("demo-" + uuid.uuid4().hex[:8], THROWAWAY_HASH_ITERATIONS,
                    settings.media_dir)
        keep(settings, cache_key(settings.password_iterations))
    await accounts.reset_passwords(SYSTEM, password, settings.password_iterations)
    return logins(password)


def logins(password: str) -> list[dict[str, str]]:
    """The users printed at start (one or more per role); everyone shares the password."""
    return [{"role": u["role"], "username": u["username"], "password": password}
            for u in fixture()["users"] if u.get("login")]


async def family_household(settings: Any) -> dict[str, str] | None:
    """The family portal's newcomer (家属端): of the households with a care-plan letter, the
    one with the most visits gets its letter printed now with a PIN the demo shows (every
    other letter is printed by the worker with a PIN nobody is told), and the reviewer
    watches its assessment video once, so the family sees who viewed it. None when the
    county has no letter left to print."""
    from ltc.accounts.tables import User
    from ltc.applications import interface as applications
    from ltc.assessments import interface as assessments
    from ltc.careplans import interface as careplans
    from ltc.careplans import letters
    from ltc.careplans.rules import new_pin
    from ltc.careplans.tables import CarePlanLetter
    from ltc.evidence import interface as evidence
    from ltc.evidence import service as evidence_service
    from ltc.people.tables import Person as PersonRow
    from ltc.visits.tables import Visit

    newest: dict[int, dict[str, Any]] = {}
    for row in await CarePlanLetter.select(
            CarePlanLetter.id, CarePlanLetter.person, CarePlanLetter.pin_hash).order_by(
            CarePlanLetter.id, ascending=False):
        newest.setdefault(row["person"], row)
    waiting = [p for p, row in newest.items() if not row["pin_hash"]]
    if not waiting:
        return None
    counts = {p: await Visit.count().where(Visit.person == p) for p in waiting}
    person_id = max(waiting, key=lambda p: (counts[p], -p))
    pin = new_pin()
    await letters.issue(newest[person_id]["id"], pin)
    reviewer = await User.select(User.id).where(User.username == "reviewer").first()
    viewer = await accounts.actor_for_user(reviewer["id"]) if reviewer else None
    application_ids = [a.id for a in await applications.applications_of(person_id)]
    assessment_ids = await assessments.assessment_ids_of(application_ids)
    for video_id in sorted(await evidence.video_ids(assessment_ids))[:1]:
        if viewer is not None:
            await evidence_service.open_for_viewing(viewer, video_id, settings.media_dir)
    person = await PersonRow.select(PersonRow.name).where(PersonRow.id == person_id).first()
    link = await careplans.family_link(settings, person_id)
    return {"name": person["name"], "link": link or "", "pin": pin}
