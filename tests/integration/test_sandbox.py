"""The policy sandbox (政策沙盘): a past month replayed through the real computation into
scratch rows. A draft equal to the policy in force gives the real batch to the fen; a draft
with other values, eligible grades or grades shows the people and money that change; and
nothing real changes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import MODERATE_SCORES, concluded_case, user_actor
from support.payout_cases import SCENARIOS, build, computed

from ltc import clock, housekeeping
from ltc.accounts.tables import User
from ltc.audit.tables import AuditEvent
from ltc.entitlements import service as entitlements
from ltc.errors import Forbidden, InvalidInput
from ltc.identity import SYSTEM
from ltc.jobs.tables import OutboxMessage
from ltc.payouts import sandbox
from ltc.payouts.tables import PayoutLine, SandboxLine, SandboxPerson, SandboxRun
from ltc.people.tables import Person
from ltc.piccolo_app import APP_CONFIG
from ltc.policy import service as policies
from ltc.policy.rules import policy_as_json
from ltc.policy.tables import PolicyVersion

pytestmark = pytest.mark.anyio

# The columns a line is made of (not its id, its batch or the version it was priced under).
SAME = ("kind", "benefit", "service_month", "payee_key", "payee_name", "organisation",
        "agreement", "person", "entitlement", "region_path", "grade", "days", "days_in_month",
        "visits_counted", "visits_excluded", "visit_treatments", "rate_fen", "gross_fen",
        "withheld_fen", "net_fen")
SCRATCH = {"sandbox_run", "sandbox_line", "sandbox_grade", "sandbox_person"}


async def _draft(**changes: Any) -> int:
    """A version of Feicheng's policy from next year: the one in force with `changes`."""
    found = await User.select(User.id).where(User.username == "policyadmin").first()
    admin = await user_actor(found["id"] if found else (
        await make_user("admin", username="policyadmin"))["id"])
    in_force = await policies.policy_in_force("370983", clock.today())
    definition = {**policy_as_json(in_force.policy), **changes}
    later = clock.today() + timedelta(days=30 + await PolicyVersion.count())
    row = await policies.add_version(admin, "370983", later, definition, note="试算草案")
    return row["id"]


async def _replayed(world, month: date, version: int, grades: dict[int, int] | None = None
                    ) -> dict[str, Any]:
    run = await sandbox.start(world.staff.reviewer, "370983", month, version, grades)
    return await sandbox.replay(run["id"])


def _line(row: dict[str, Any]) -> tuple:
    return tuple(row[k] for k in SAME)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_the_policy_in_force_replays_the_batch_to_the_fen(database_url, monkeypatch,
                                                                 scenario) -> None:
    world = await build(monkeypatch, scenario)
    batch = await computed(monkeypatch, scenario.month, world.staff.clerk)
    run = await _replayed(world, scenario.month, await _draft())
    real = await PayoutLine.select().where(PayoutLine.batch == batch["id"])
    replayed = await SandboxLine.select().where(SandboxLine.batch == run["id"])
    assert real and sorted(map(_line, replayed)) == sorted(map(_line, real))
    assert (run["state"], run["gross_fen"], run["net_fen"]) == (
        "done", batch["gross_fen"], batch["net_fen"])
    assert (run["real_gross_fen"], run["people_changed"]) == (batch["gross_fen"], 0)


async def test_a_higher_subsidy_shows_its_cost_and_changes_nothing_real(database_url,
                                                                       monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, SCENARIOS[0].month, world.staff.clerk)
    draft = await _draft(family_subsidy_fen=60000)
    before = await _counts()
    audited = await AuditEvent.count()
    run = await _replayed(world, SCENARIOS[0].month, draft)
    assert await _counts() == before
    actions = await AuditEvent.select(AuditEvent.action).where(AuditEvent.id > audited)
    assert {a["action"] for a in actions} == {"sandbox.run_started", "sandbox.run_finished"}
    assert (run["real_gross_fen"], run["gross_fen"]) == (45000, 60000)
    assert [(s.benefit, s.real_fen, s.new_fen) for s in sandbox.summary_of(run)] == [
        ("family_subsidy", 45000, 60000)]
    people = await sandbox.people(run["id"])
    assert [(p["name"], p["change_label"], p["real_gross_fen"], p["new_gross_fen"])
            for p in people] == [("张秀英", "金额变化", 45000, 60000)]
    assert await sandbox.people(run["id"], q="zxy") == people
    assert await sandbox.people(run["id"], change="lost") == []
    # the real batch is as it was: its lines, totals and state
    assert (await PayoutLine.count().where(PayoutLine.batch == batch["id"])) == 1
    delivered = await sandbox.replay(run["id"])  # a job delivered twice does nothing
    assert delivered is None and await sandbox.line_count(run["id"]) == 1


async def test_eligible_grades_and_regrading_change_who_is_paid(database_url,
                                                                monkeypatch) -> None:
    scenario = next(s for s in SCENARIOS if s.name.startswith("institutional care with"))
    world = await build(monkeypatch, scenario)
    await computed(monkeypatch, scenario.month, world.staff.clerk)
    person = world.case.person_id
    narrower = await _draft(eligible_grades=[3, 4], visits_per_month={"3": 2, "4": 3},
                            bed_day_rate_fen={"3": 5000, "4": 6000},
                            validity_months_by_grade={"3": 24, "4": 24})
    lost = await _replayed(world, scenario.month, narrower)
    assert [(p["change"], p["real_grade"], p["new_grade"], p["new_gross_fen"])
            for p in await sandbox.people(lost["id"])] == [("lost", 5, 0, 0)]
    regraded = await _replayed(world, scenario.month, await _draft(), {person: 3})
    assert [(p["change"], p["real_grade"], p["new_grade"], p["new_gross_fen"])
            for p in await sandbox.people(regraded["id"])] == [("grade", 5, 3, 19 * 5000)]
    assert await SandboxPerson.count() == 2


async def test_people_the_draft_would_bring_in_are_listed_without_a_cost(client,
                                                                          monkeypatch) -> None:
    """No entitlement, so no line on either side: a grade-2 (中度失能) decision becomes
    eligible under a draft that pays grade 2, or under a ruleset grading them 3; someone
    who died before the month, or was never decided, is not listed."""
    scenario = SCENARIOS[0]
    world = await build(monkeypatch, scenario)
    await computed(monkeypatch, scenario.month, world.staff.clerk)
    moderate = {}
    for name in ("王桂兰", "李淑华"):
        case = await concluded_case(world.staff, name=name, scores=MODERATE_SCORES)
        await entitlements.decide(SYSTEM, case.assessment_id, "no_objection",
                                  scenario.month.replace(day=1) - timedelta(days=20))
        moderate[name] = case.person_id
    await Person.update({Person.deceased_on: scenario.month - timedelta(days=1)}).where(
        Person.id == moderate["李淑华"])
    await concluded_case(world.staff, name="赵玉梅", scores=MODERATE_SCORES)  # no decision
    wider = await _draft(eligible_grades=[2, 3, 4, 5], visits_per_month={
        "2": 2, "3": 2, "4": 3, "5": 4}, bed_day_rate_fen={
        "2": 4000, "3": 5000, "4": 6000, "5": 7000}, validity_months_by_grade={
        "2": 24, "3": 24, "4": 24, "5": 24})
    run = await _replayed(world, scenario.month, wider)
    assert [(p["name"], p["change_label"], p["real_grade"], p["new_grade"],
             p["real_gross_fen"], p["new_gross_fen"]) for p in await sandbox.people(
        run["id"], change="eligible")] == [("王桂兰", "新符合条件（尚无待遇，费用未计入）",
                                            2, 2, 0, 0)]
    assert (run["gross_fen"], run["real_gross_fen"]) == (45000, 45000)
    assert (await sign_in(client, "reviewer")).status_code == 302
    page = (await client.get(f"/policy/sandbox/{run['id']}")).text
    assert "1 人</a>本月尚无待遇" in page and "未计入" in page
    regraded = await _replayed(world, scenario.month, await _draft(),
                               {moderate["王桂兰"]: 3, moderate["李淑华"]: 3})
    assert [(p["name"], p["real_grade"], p["new_grade"]) for p in await sandbox.people(
        regraded["id"])] == [("王桂兰", 2, 3)]
    unchanged = await _replayed(world, scenario.month, await _draft())
    assert await sandbox.people(unchanged["id"]) == []


async def test_housekeeping_drops_the_lines_of_runs_a_month_old(database_url,
                                                                 monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    await computed(monkeypatch, SCENARIOS[0].month, world.staff.clerk)
    draft = await _draft(family_subsidy_fen=60000)
    old, recent = [await _replayed(world, SCENARIOS[0].month, draft) for _ in range(2)]
    await SandboxRun.update({SandboxRun.finished_at: clock.now() - timedelta(days=31)}).where(
        SandboxRun.id == old["id"])
    await SandboxRun.update({SandboxRun.finished_at: clock.now() - timedelta(days=29)}).where(
        SandboxRun.id == recent["id"])
    await housekeeping.purge_expired()
    assert (await sandbox.line_count(old["id"]), await sandbox.line_count(recent["id"])) == (
        0, 1)
    kept = await sandbox.visible_run(world.staff.reviewer, old["id"])
    assert (kept["gross_fen"], kept["people_changed"]) == (60000, 1)
    assert len(await sandbox.people(old["id"])) == 1


async def test_bad_choices_are_refused_all_at_once(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    await computed(monkeypatch, SCENARIOS[0].month, world.staff.clerk)
    with pytest.raises(InvalidInput) as refused:
        await sandbox.start(world.staff.reviewer, "370983", clock.today(), 999999)
    assert set(refused.value.fields) == {"month", "policy_version"}
    with pytest.raises(InvalidInput) as refused:
        await sandbox.start(world.staff.reviewer, "370983", date(2026, 10, 1), await _draft())
    assert "还没有结算批次" in refused.value.fields["month"]
    with pytest.raises(Forbidden):
        await sandbox.start(world.staff.clerk, "370983", date(2026, 12, 1), await _draft())
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == sandbox.REPLAY_JOB) == 0


async def _counts() -> dict[str, int]:
    """Rows of every real table (the audit trail and the job outbox are checked apart)."""
    return {t._meta.tablename: await t.count() for t in APP_CONFIG.table_classes
            if t._meta.tablename not in SCRATCH | {"audit_event", "outbox_message"}}


async def test_the_pages_start_a_run_show_it_and_export_it(client, database_url,
                                                           monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    await computed(monkeypatch, SCENARIOS[0].month, world.staff.clerk)
    draft = await _draft(family_subsidy_fen=60000)
    assert (await sign_in(client, "clerk")).status_code == 302
    assert (await client.get("/policy/sandbox")).status_code == 403
    assert (await sign_in(client, "reviewer")).status_code == 302
    form = (await client.get("/policy/sandbox")).text
    assert "（草案，尚未生效）" in form and 'value="2026-12"' in form
    token = await csrf_token(client, "/policy/sandbox")
    refused = await client.post("/policy/sandbox", data={
        "_csrf_token": token, "region": "370983", "month": "2027-01", "policy_version": ""})
    assert refused.status_code == 422
    assert "只能重放已经结束的月份" in refused.text and "请选择本统筹地区的政策版本" in refused.text
    started = await client.post("/policy/sandbox", data={
        "_csrf_token": token, "region": "370983", "month": "2026-12",
        "policy_version": str(draft)}, follow_redirects=False)
    assert started.status_code in (302, 303), started.text[:300]
    url = started.headers["location"]
    waiting = (await client.get(url)).text
    assert 'id="computing" role="status" data-poll' in waiting and "正在试算" in waiting
    await sandbox.replay(int(url.rsplit("/", 1)[1]))
    html = (await client.get(url, params={"q": "张"})).text
    assert 'id="computing"' not in html and "差额 ¥150.00" in html
    assert "家庭护理补贴</td><td>¥450.00</td><td>¥600.00</td><td>¥150.00" in html
    assert "张秀英" in html and "金额变化" in html
    assert "张秀英" not in (await client.get(url, params={"change": "lost"})).text
    rows = (await client.get(f"{url}/export.csv", params={"q": "张"})).content.decode("utf-8-sig")
    assert rows.splitlines()[1].startswith("张秀英,370983") and rows.splitlines()[1].endswith(
        ",450.00,600.00,150.00")
    listed = await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.action.like("sandbox.%"))
    assert {"sandbox.people_read", "sandbox.exported"} <= {a["action"] for a in listed}


async def test_a_replay_that_fails_says_so_and_leaves_no_lines(database_url,
                                                              monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    await computed(monkeypatch, SCENARIOS[0].month, world.staff.clerk)
    run = await sandbox.start(world.staff.reviewer, "370983", SCENARIOS[0].month,
                              await _draft())
    # A statement the database refuses, as a replay broken half-way would meet one.
    monkeypatch.setattr(sandbox.computation, "regular_lines",
                        lambda *args, **kwargs: "INSERT INTO sandbox_line (batch) VALUES (NULL)")
    await sandbox.replay_or_fail(run["id"])
    failed = await sandbox.visible_run(world.staff.reviewer, run["id"])
    assert failed["state"] == "failed" and failed["error"]
    assert await sandbox.line_count(run["id"]) == 0
