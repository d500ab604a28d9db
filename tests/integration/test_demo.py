"""`ltc demo`: one command gives a fresh embedded system where every demo user signs in; the
county it builds (ltc.demo) keeps every story the walk-through in README tells."""

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from conftest import PG_URL, free_port
from support.demo import start_demo, stop_demo

# `ltc demo` runs on the embedded SQLite database only, whatever the test engine: the
# PostgreSQL pass leaves it to the SQLite pass (the builder itself is run on both below).
sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="ltc demo runs on SQLite only")

HOME_TITLES = {"clerk": "经办员工作台", "assessor": "评估员工作台", "provider": "护理机构工作台",
               "reviewer": "审核员工作台", "admin": "系统管理"}


def _wait_for_audit_action(database: Path, action: str, seconds: float = 300) -> bool:
    """True once `action` is in the demo's audit log. The first minutes after a start the
    worker renders the county's PDFs (hundreds, queued before today's jobs): on a busy
    machine the job may wait minutes for them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as connection:
            if connection.execute("SELECT 1 FROM audit_event WHERE action = ?",
                                  (action,)).fetchone():
                return True
        time.sleep(0.2)
    return False


@sqlite_only
def test_demo_starts_fresh_and_every_demo_user_reaches_their_home_page(demo_var_dir: Path
                                                                      ) -> None:
    port = free_port()
    process, logins = start_demo(demo_var_dir, port)
    assert len(logins) == 9  # one or more per role, five assessors
    try:
        for role, username, password in logins:
            # No timing assertion: the demo's first seconds also run the scheduler's catch-up
            # jobs and the worker's PDF warm-up in the same process (a CI run took > 5 s,
            # httpx's default timeout, to answer the first request).
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                client.get("/login")
                response = client.post("/login", data={
                    "username": username, "password": password,
                    "_csrf_token": client.cookies["ltc_csrf"]}, follow_redirects=True)
                assert response.status_code == 200, response.text
                assert f"<h1>{HOME_TITLES[role]}</h1>" in response.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60).json()[
            "status"] == "ok"
        # The family's link and PIN printed at start sign a household in (README 家属).
        printed = (demo_var_dir.parent / f"demo-{port}.log").read_text(encoding="utf-8")
        family = re.search(r"(http://\S+/family/l/\S+)\s+家庭确认码 PIN: (\d{6})", printed)
        assert family, printed[-2000:]
        with httpx.Client(timeout=60) as client:
            client.get(family[1])
            signed_in = client.post(family[1], data={
                "pin": family[2], "_csrf_token": client.cookies["ltc_csrf"]},
                follow_redirects=True)
            assert signed_in.status_code == 200 and "护理计划" in signed_in.text
        # The in-process scheduler, outbox relay and worker run today's audit-chain check.
        assert _wait_for_audit_action(demo_var_dir / "ltc.sqlite3", "audit.chain_verified")
    finally:
        stop_demo(process)
    for key in ("audit_key", "audit_signing_key"):  # made on first start, owner-only
        assert (demo_var_dir / key).stat().st_mode & 0o777 == 0o600
    _assert_audit_intact(demo_var_dir)

    # Run again: a fresh copy of the county, with a fresh password.
    port = free_port()
    process, second = start_demo(demo_var_dir, port)
    try:
        assert second[0][2] != logins[0][2]
    finally:
        stop_demo(process)
    _assert_audit_intact(demo_var_dir)  # the old database's checkpoints went with it


def _assert_audit_intact(var_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    verified = subprocess.run([sys.executable, "-m", "ltc.cli", "audit", "verify"],
                              env={**env, "LTC_VAR_DIR": str(var_dir)}, capture_output=True,
                              text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert re.search(r"audit chain intact: \d+ events verified, [1-9]\d* signed checkpoints "
                     "hold", verified.stdout), verified.stdout


@pytest.mark.anyio
async def test_the_demo_county_tells_every_story(database_url, settings) -> None:
    """One build (it takes minutes), every story of README's walk-through checked on it."""
    from ltc import clock, demo
    from ltc.accounts import service as accounts
    from ltc.accounts.tables import User
    from ltc.agreements.tables import Agreement
    from ltc.assessments import experts
    from ltc.assessments import service as assessments
    from ltc.assessments.assignment import eligible_assessors
    from ltc.assessments.rulesets import list_rulesets
    from ltc.assessments.tables import Assessment
    from ltc.assessments.validity import conclusions_to_renew
    from ltc.audit import service as audit
    from ltc.audit.tables import AuditEvent
    from ltc.careplans.tables import CareItem, CarePlan
    from ltc.decision_events.tables import EventSubscriber
    from ltc.desk.regrading import compute_impact
    from ltc.evidence import service as evidence
    from ltc.inspections.tables import InspectionFinding
    from ltc.notices.tables import NoticeBatch, Objection
    from ltc.organisations.tables import Organisation, OrganisationStatusChange
    from ltc.payouts.tables import (
        Payment,
        PayoutBatch,
        PayoutDeclaration,
        PayoutDispute,
        SandboxRun,
    )
    from ltc.people.tables import Person
    from ltc.regions.tables import Region
    from ltc.returnvisits.tables import ReturnVisit
    from ltc.spotchecks.tables import SpotCheck
    from ltc.staff import service as staff
    from ltc.staff.tables import StaffMember, StaffTraining
    from ltc.visits.tables import Survey, Visit

    await demo.build("demo-test1", 1_000, settings.media_dir)

    async def actor(username: str):
        user = await User.select(User.id).where(User.username == username).first()
        return await accounts.actor_for_user(user["id"])

    assert 55 <= await Person.count() <= 65
    # Both hospitals under agreement today, four assessors and two experts each and more.
    active = await Agreement.select(Agreement.organisation.code).where(
        (Agreement.kind == "assessment") & (Agreement.state == "ACTIVE"))
    assert sorted(a["organisation.code"] for a in active) == ["AO-370983-01", "AO-370983-02"]
    drawn = await eligible_assessors("370983/370983001/370983001001", on=clock.today())
    teams = Counter((c.organisation, c.expert) for c in drawn)
    assert teams == {("肥城市人民医院", True): 2, ("肥城市人民医院", False): 4,
                     ("肥城市中医医院", True): 2, ("肥城市中医医院", False): 4}
    # 钱评估's certificate expired 20 days ago: the staff register keeps him out of the draw.
    assert "钱评估" not in [c.name for c in drawn]
    # The staff register: everyone who assesses or visits, and staff without an account.
    clerk = await actor("clerk")
    records = {r["name"]: r for r in await StaffMember.select()}
    for user in demo.fixture()["users"]:
        if user["role"] in ("assessor", "provider"):
            assert records[user["display_name"]]["user"] is not None, user["username"]
    assert sum(r["user"] is None for r in records.values()) >= 4
    assert records["钱评估"]["certificate_until"] < clock.today()
    assert await staff.certificates_due_count(clerk) >= 1  # the clerk's certificates list
    assert await StaffTraining.count() >= 5
    # The organisation register: every organisation filled in, one suspended with its reason.
    for organisation in await Organisation.select():
        assert organisation["national_code"] and organisation["category"], organisation
        assert organisation["licence_no"] and organisation["address"], organisation
    suspended = await Organisation.select().where(Organisation.status == "suspended")
    assert [o["code"] for o in suspended] == ["ORG-P-004"]
    assert await OrganisationStatusChange.count().where(
        OrganisationStatusChange.organisation == suspended[0]["id"]) == 1
    region = await Region.select().where(Region.code == "370983").first()
    assert "演示数据" in region["bureau_address"] and region["bureau_phone"]
    assert await CareItem.count().where(CareItem.national_code != "") >= 6
    # Two decision-event subscribers: the insurance core paused, civil affairs unreachable.
    subscribers = await EventSubscriber.select(EventSubscriber.url, EventSubscriber.active)
    assert sorted((s["active"], s["url"]) for s in subscribers) == [
        (False, "https://ybhx.example.cn/ltc/events"),
        (True, "http://mzjz.feicheng.invalid/ltc-events")]
    # Payees: every provider agreement names its account; ORG-P-002's amended mid-month.
    providers = await Agreement.select().where(Agreement.kind == "provider")
    assert all(a["bank_account"] for a in providers)
    amended = [a for a in providers if a["amendment_no"] == 1]
    assert [(a["starts_on"].day, a["visit_rate_fen"], a["state"]) for a in amended] == [
        (16, 9500, "ACTIVE")]
    # The family caregiver's payment the bank returned, paid the next month to the new account.
    failed = await Payment.select().where(Payment.status == "failed").first()
    again = await Payment.select().where(
        (Payment.payee_key == failed["payee_key"]) & (Payment.id > failed["id"])
        & (Payment.status == "paid")).first()
    assert again["bank_account"] != failed["bank_account"]
    assert again["amount_fen"] > failed["amount_fen"]  # the month's own and the carried
    # 孙秀珍 waits for 吴专家's 专家确认.
    queue = await experts.confirmation_queue(await actor("expert"))
    assert [row["application.person.name"] for row in queue] == ["孙秀珍"]
    assert queue[0]["status"].missing == 1
    # The corrected ruleset in force; its impact on the people graded by version 1.
    in_force = await assessments.ruleset_for("370983/370983001", clock.now())
    assert (in_force["code"], in_force["version"]) == ("national-2021", 2)
    first = next(r for r in await list_rulesets() if r["key"] == "national-2021@1")
    assert first["status"].label.startswith("已被第2版取代")
    impact = await compute_impact(await actor("reviewer"), "370983", "national-2021@2")
    assert sorted((r.name, r.grade_change, r.kind.label) for r in impact.rows) == [
        ("李桂兰", "重度失能Ⅰ级 → 中度失能", "失去待遇资格"),
        ("赵福林", "重度失能Ⅲ级 → 重度失能Ⅱ级", "等级降低（资格不变）")]
    # 孙秀兰's conclusion of 700 days ago is about to expire.
    rows = await conclusions_to_renew(await actor("clerk"))
    assert ("孙秀兰", "即将到期") in [(r.person_name, r.state.label) for r in rows]
    # Notices published and closed, one objected to and re-assessed by the other hospital.
    states = {b["state"] for b in await NoticeBatch.select(NoticeBatch.state)}
    assert states == {"PUBLISHED", "CLOSED"}
    assert await Objection.count() == 1
    again = await Assessment.select().where(Assessment.kind == "reassessment").first()
    assert again["state"] == "CONCLUDED"
    # Payouts: paid and reconciled months; last month's draft declared by one provider and
    # disputed by another, the dispute waiting for the clerk's first review.
    batches = await PayoutBatch.select(PayoutBatch.month, PayoutBatch.state).order_by(
        PayoutBatch.month)
    assert batches[-1] == {"month": clock.previous_month(clock.today()), "state": "DRAFT"}
    assert await PayoutDeclaration.count().where(PayoutDeclaration.voided_at.is_null()) == 1
    assert await PayoutDispute.count().where(PayoutDispute.state == "open") == 1
    # 政策沙盘: last month replayed under the draft with a higher family subsidy, finished.
    run = await SandboxRun.select().first()
    assert (run["state"], run["month"]) == ("done", batches[-1]["month"])
    assert run["gross_fen"] > run["real_gross_fen"] and run["people_changed"] >= 1
    # Every earlier month exported; those with payments reconciled from the bank's file.
    assert {b["state"] for b in batches[:-1]} <= {"RECONCILED", "EXPORTED"}
    assert sum(b["state"] == "RECONCILED" for b in batches) >= 3
    # Care plans, visits (some waiting for review), surveys, spot checks.
    assert await CarePlan.count().where(CarePlan.state == "ACTIVE") >= 30
    assert await Visit.count() >= 100
    assert await Visit.count().where(Visit.review == "flagged") >= 1
    assert await Survey.count() >= 4
    checks = await SpotCheck.select(SpotCheck.state)
    assert {"RECORDED", "PENDING"} <= {c["state"] for c in checks}
    # Return visits: last month's sample waits for the clerk, two of its calls recorded
    # (one denied, its visit back in review); the months before all called.
    last_month = clock.previous_month(clock.month_first(clock.today()))
    calls = await ReturnVisit.select().order_by(ReturnVisit.id)
    latest = [c for c in calls if c["month"] == last_month]
    assert len(latest) >= 5 and sum(c["state"] == "PENDING" for c in latest) == len(latest) - 2
    assert sorted(c["outcome"] for c in latest if c["outcome"]) == ["confirmed", "denied"]
    assert all(c["state"] == "RECORDED" for c in calls if c["month"] < last_month)
    denied = next(c for c in latest if c["outcome"] == "denied")
    assert (await Visit.select(Visit.review).where(Visit.id == denied["visit"]).first()
            )["review"] == "flagged"
    # 稽核: last night's run found the pair planted two days ago, open for the reviewer.
    found = await InspectionFinding.select(InspectionFinding.rule, InspectionFinding.state)
    assert {("travel", "open"), ("shared_confirmation", "open")} <= {
        (f["rule"], f["state"]) for f in found}
    # 21号文: a sanctioned organisation on the public list; a provider in exit, its clients
    # waiting for the clerk's handover, each proposed the town's other provider.
    from ltc.sanctions import service as sanctions

    assert [r["organisation_name"] for r in await sanctions.public_sanctions()] == [
        "肥城市康宁居家护理服务中心"]
    assert await sanctions.open_exit_count(clerk) >= 1
    exits = await sanctions.list_exits(clerk, state="OPEN")
    worklist = await sanctions.get_exit(clerk, exits[0]["id"])
    assert {i["proposed_name"] for i in worklist["items"]} == {"新城街道社区卫生服务中心"}
    # The audit chain and every stored video verify.
    assert (await audit.verify(settings)).intact
    checked, problems = await evidence.verify_report(settings.media_dir)
    assert checked >= 50 and problems == []
    # The family portal's household (README): its letter printed now with the PIN the demo
    # shows, its assessment video watched once by the reviewer.
    household = await demo.family_household(settings)
    assert household and len(household["pin"]) == 6 and "/family/l/" in household["link"]
    viewed = await AuditEvent.select(AuditEvent.actor_name).where(
        AuditEvent.action == "evidence.viewed")
    assert [v["actor_name"] for v in viewed] == ["赵审核"]
    # The dashboard has the county's figures at once, and last month's report was made on
    # the 2nd by its job (README).
    from ltc.dashboard import report as dashboard_report
    from ltc.dashboard import service as dashboard

    scope = await dashboard.scope_of(await actor("reviewer"), "")
    shown = await dashboard.figures(scope, clock.today())
    assert shown.of("spend") and shown.of("grade") and shown.of("cycle")
    assert shown.of("provider") and shown.of("assessor")
    reports = await dashboard_report.reports(scope.pooling_code)
    # The demo's nights run at 01:30: the job of the 2nd has run once the 3rd has begun.
    made_on = clock.month_first(clock.today()) if clock.today().day >= 3 else (
        clock.previous_month(clock.today()))
    assert clock.previous_month(made_on) in {r["month"] for r in reports}




@pytest.mark.anyio
async def test_a_story_no_draw_can_give_stops_the_build_and_draws_replay(database_url) -> None:
    """The builder never tells another story silently: when none of its seeds draws the team
    a story needs, it raises and nothing is assigned; its draws are seeded by the case, so
    a build on the same day draws the same teams."""
    import json

    from support.cases import MATERIALS, make_staff, register

    from ltc import clock, demo
    from ltc.applications import service as applications
    from ltc.applications.tables import Application
    from ltc.assessments.draw import replay
    from ltc.assessments.tables import Assessment

    staff = await make_staff(assessors=4)
    person = await register(staff, name="张秀英")
    draft = await applications.create_application(
        staff.clerk, person_id=person["id"], applicant_name="李明", applicant_relation="子女",
        applicant_phone="13900000000", disabled_since=clock.today() - timedelta(days=400),
        materials=MATERIALS)
    sent = await applications.submit_application(staff.clerk, draft["id"], draft["version"])
    accepted = await applications.accept_application(staff.clerk, sent["id"], sent["version"])
    county = demo.County({}, demo.Agenda(clock.today()), "unused", 1_000,
                         actors={"clerk": staff.clerk})
    case = demo.Person({"name": "张秀英"}, person["resident_id"], person_id=person["id"],
                       application_id=accepted["id"])

    with pytest.raises(demo.StoryNotHeld, match="张秀英"):
        await demo.assign(county, case, wanted=lambda chosen: False)
    row = await Application.select(Application.state).where(
        Application.id == accepted["id"]).first()
    assert row["state"] == "ACCEPTED"

    # The first seed in the fixed order whose draw gives the team: here the last assessor
    # made must be on it.
    last = staff.assessors[-1].id
    await demo.assign(county, case, wanted=lambda chosen: last in chosen)
    assessment = await Assessment.select().where(Assessment.id == case.assessment_id).first()
    draw = json.loads(assessment["draw"])
    assert draw["seed"].startswith(f"demo-{person['resident_id']}-")
    assert last in draw["chosen"] and tuple(draw["chosen"]) == replay(draw)
