"""Spot checks (抽查, issue 12 item 7): a month's draw (every organisation covered, replay
equals the stored draw, idempotent), an expert's finding (who may, what 不符合 raises),
and the bureau's lists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest
from conftest import make_user
from support.cases import (
    Case,
    FrozenClock,
    Staff,
    complete_assessment,
    make_staff,
    register,
    user_actor,
)
from test_cli import ltc

from ltc import clock
from ltc.applications import service as applications
from ltc.applications.tables import Application
from ltc.assessments import assignment, withdrawal
from ltc.assessments.tables import Assessment, AssessorConflict
from ltc.audit.tables import AuditEvent
from ltc.db import StaleWrite
from ltc.entitlements import service as entitlements
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.evidence import service as evidence
from ltc.identity import SYSTEM, Actor
from ltc.organisations.tables import Organisation
from ltc.spotchecks import jobs, queries, service
from ltc.spotchecks.tables import SpotCheck, SpotCheckDraw

pytestmark = pytest.mark.anyio

OCTOBER = date(2026, 10, 1)
CITY = "370983"


@dataclass
class World:
    clock: FrozenClock
    staff: Staff
    a_team: list[Actor]  # organisation T-A
    b_team: list[Actor]  # T-B
    experts: list[Actor]  # T-C: took part in nothing
    cases: list[Case]  # concluded in October: three by T-A, one by T-B


async def _team(organisation: str, names: list[str]) -> list[Actor]:
    return [await user_actor((await make_user("assessor", username=name,
                                              organisation=organisation))["id"])
            for name in names]


async def _concluded(staff: Staff, name: str, exclude: list[int]) -> Case:
    """A case concluded and decided today by two assessors drawn among those not in
    `exclude`."""
    clerk = staff.clerk
    person = await register(staff, name=name)
    draft = await applications.create_application(
        clerk, person_id=person["id"], applicant_name="李明", applicant_relation="子女",
        applicant_phone="13900000000", disabled_since=date(2025, 1, 1),
        materials=["application_form", "id_card", "insurance_card", "medical_records"])
    sent = await applications.submit_application(clerk, draft["id"], draft["version"])
    accepted = await applications.accept_application(clerk, sent["id"], sent["version"])
    assessment = await assignment.assign_assessors(clerk, accepted["id"], accepted["version"],
                                                   exclude=exclude)
    concluded = await complete_assessment(staff, assessment["id"])
    # Noticed without objection and decided, as most are by the next month's draw.
    await entitlements.decide(SYSTEM, assessment["id"], "no_objection", clock.today())
    return Case(person["id"], person["resident_id"], name, accepted["id"], assessment["id"],
                concluded["grade"], (assessment["assessor_1"], assessment["assessor_2"]))


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    clock = FrozenClock(monkeypatch, date(2026, 10, 12))
    staff = await make_staff(assessors=0)
    a_team = await _team("T-A", ["a1", "a2"])
    b_team = await _team("T-B", ["b1", "b2"])
    b_ids = [a.id for a in b_team]
    cases = [await _concluded(staff, name, b_ids) for name in ("张秀英", "李桂兰", "王淑珍")]
    cases.append(await _concluded(staff, "赵玉梅", [a.id for a in a_team]))
    experts = await _team("T-C", ["c1", "c2", "c3"])
    clock.set(date(2026, 11, 3))
    return World(clock, staff, a_team, b_team, experts, cases)


async def _orgs(*codes: str) -> set[int]:
    rows = await Organisation.select(Organisation.id).where(Organisation.code.is_in(codes))
    return {r["id"] for r in rows}


async def _events(action: str) -> int:
    return await AuditEvent.count().where(AuditEvent.action == action)


async def _check_of(assessment_id: int) -> dict:
    return await SpotCheck.select().where(SpotCheck.assessment == assessment_id).first()


async def test_a_months_draw_covers_every_organisation_replays_and_is_drawn_once(world):
    late = await _concluded(world.staff, "刘凤英", [a.id for a in world.b_team])  # November
    drawn = await service.draw_month(SYSTEM, CITY, OCTOBER)
    record = json.loads(drawn["record"])
    assert drawn["rate_basis_points"] == 500  # the Feicheng policy
    assert [c["assessment_id"] for c in record["candidates"]] == [
        c.assessment_id for c in world.cases]  # October's four, not November's
    assert late.assessment_id not in record["chosen"]
    checks = await SpotCheck.select().where(SpotCheck.draw == drawn["id"])
    # 5 % of 4 rounds up to one, but T-A and T-B each concluded some: two checks.
    assert len(checks) == 2
    assert {c["organisation_1"] for c in checks} == await _orgs("T-A", "T-B")
    assert all(c["state"] == "PENDING" and c["month"] == OCTOBER for c in checks)
    replay = await service.replay_month(SYSTEM, CITY, OCTOBER)
    assert replay.matches and replay.replayed == record["chosen"]
    # Sent again (scheduler catch-up, an operator): the same draw, nothing added.
    again = await service.draw_month(SYSTEM, CITY, OCTOBER)
    assert again["id"] == drawn["id"] and again["seed"] == drawn["seed"]
    assert await SpotCheck.count() == 2 and await _events("spotcheck.drawn") == 1
    assert await service.draw_previous_month(date(2026, 11, 1)) == [
        f"{CITY}: {drawn['key']}"]
    with pytest.raises(Conflict) as refused:
        await service.draw_month(SYSTEM, CITY, date(2026, 11, 1))
    assert refused.value.code == "month_not_ended"


async def test_replay_finds_a_tampered_draw(world):
    drawn = await service.draw_month(SYSTEM, CITY, OCTOBER)
    record = json.loads(drawn["record"])
    record["chosen"] = list(reversed(record["chosen"]))
    await SpotCheckDraw.update({SpotCheckDraw.record: json.dumps(record)}).where(
        SpotCheckDraw.id == drawn["id"])
    assert not (await service.replay_month(SYSTEM, CITY, OCTOBER)).matches


async def test_an_expert_records_conform_once(world):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await _check_of((await SpotCheck.select().first())["assessment"])
    expert = world.experts[0]
    # The expert may see the record's video while the check waits.
    assert len(await evidence.list_for_assessment(expert, check["assessment"])) == 1
    with pytest.raises(StaleWrite):
        await service.record_finding(expert, check["id"], check["version"] + 1,
                                     finding="conform", notes="")
    done = await service.record_finding(expert, check["id"], check["version"],
                                        finding="conform", notes="记录与视频一致")
    assert (done["state"], done["finding"], done["expert"]) == ("RECORDED", "conform",
                                                                 expert.id)
    assert done["application"] is None and await _events("spotcheck.conform") == 1
    with pytest.raises(Conflict) as refused:
        await service.record_finding(world.experts[1], check["id"], done["version"],
                                     finding="nonconform", notes="再查")
    assert refused.value.code == "wrong_state"
    # Once recorded, only its expert still sees the video.
    assert await evidence.list_for_assessment(expert, check["assessment"])
    with pytest.raises(Forbidden):
        await evidence.list_for_assessment(world.experts[1], check["assessment"])


@pytest.mark.parametrize("who", ["assessor_1", "assessor_2", "reviewer", "clerk"])
async def test_nobody_who_took_part_records_it(world, who):
    case = world.cases[0]
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await _check_of(case.assessment_id) or await _check_of(
        (await SpotCheck.select().first())["assessment"])
    row = await Assessment.select().where(Assessment.id == check["assessment"]).first()
    actor = {"assessor_1": await user_actor(row["assessor_1"]),
             "assessor_2": await user_actor(row["assessor_2"]),
             "reviewer": world.staff.reviewer, "clerk": world.staff.clerk}[who]
    with pytest.raises(Forbidden) as refused:
        await service.record_finding(actor, check["id"], check["version"],
                                     finding="conform", notes="")
    if who.startswith("assessor"):
        assert refused.value.code == "spotcheck_not_allowed"
        assert "参与了该评估" in refused.value.message
    assert (await _check_of(check["assessment"]))["state"] == "PENDING"
    assert await _events("spotcheck.conform") == 0


async def test_an_expert_of_another_region_is_refused(world):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await SpotCheck.select().first()
    elsewhere = await user_actor((await make_user(
        "assessor", username="far", region="370983002", organisation="T-C"))["id"])
    with pytest.raises(NotFound):
        await service.record_finding(elsewhere, check["id"], check["version"],
                                     finding="conform", notes="")
    assert (await _check_of(check["assessment"]))["state"] == "PENDING"


@pytest.mark.parametrize(("qualification", "until", "said"), [
    ("assessor", date(2099, 12, 31), "不具备有效的评估专家资质"),  # a 评估员, not an expert
    ("expert", date(2026, 11, 2), "不具备有效的评估专家资质"),  # expired the day before
    ("expert", date(2026, 11, 3), None),  # today (the world's day) is its last valid day
])
async def test_only_an_expert_valid_on_the_day_records_it(world, qualification, until, said):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await SpotCheck.select().first()
    checker = await user_actor((await make_user(
        "assessor", username="checker", organisation="T-C", qualification=qualification,
        qualified_until=until))["id"])
    waiting = [r["id"] for r in await queries.expert_queue(checker)]
    if said is None:
        assert check["id"] in waiting
        await service.record_finding(checker, check["id"], check["version"],
                                     finding="conform", notes="")
        assert (await _check_of(check["assessment"]))["state"] == "RECORDED"
        return
    assert waiting == []
    with pytest.raises(Forbidden) as refused:
        await service.record_finding(checker, check["id"], check["version"],
                                     finding="conform", notes="")
    assert said in refused.value.message
    assert (await _check_of(check["assessment"]))["state"] == "PENDING"
    assert await _events("spotcheck.conform") == 0


async def test_nonconform_needs_notes_then_raises_a_new_assessment_elsewhere(world):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    a_orgs = await _orgs("T-A")
    check = await SpotCheck.select().where(SpotCheck.organisation_1.is_in(list(a_orgs))).first()
    first = await Assessment.select().where(Assessment.id == check["assessment"]).first()
    expert = world.experts[0]
    with pytest.raises(InvalidInput) as refused:
        await service.record_finding(expert, check["id"], check["version"],
                                     finding="nonconform", notes=" ")
    assert set(refused.value.fields) == {"notes"}
    assert await Application.count().where(Application.origin == "spotcheck") == 0
    done = await service.record_finding(expert, check["id"], check["version"],
                                        finding="nonconform",
                                        notes="视频显示穿衣、行走可独立完成")
    new_case = await Application.select().where(Application.id == done["application"]).first()
    assert (new_case["origin"], new_case["state"]) == ("spotcheck", "ASSIGNED")
    assert "不符合" in new_case["origin_reason"] and new_case["person"] == (
        await Application.select().where(Application.id == first["application"]).first()
    )["person"]
    again = await Assessment.select().where(Assessment.application == new_case["id"]).first()
    drawn = {again["assessor_1"], again["assessor_2"]}
    # Another organisation (T-B: T-A took part; T-C's only two left besides the expert would
    # also do), nobody who took part, not the expert.
    assert drawn.isdisjoint({first["assessor_1"], first["assessor_2"], expert.id})
    record = json.loads(again["draw"])
    assert record["exclude_organisations"] == sorted(a_orgs)
    excluded = {e["user_id"] for e in record["exclusions"]
                if "excluded_organisation" in e["reasons"]}
    assert excluded == {c["user_id"] for c in record["candidates"]
                        if c["organisation_id"] in a_orgs} != set()
    # The first conclusion is untouched: only the new case's decision changes anything.
    assert (await Assessment.select().where(Assessment.id == first["id"]).first())[
        "state"] == "CONCLUDED"
    assert await _events("spotcheck.nonconform") == 1
    assert await _events("application.spotcheck_raised") == 1


async def test_the_new_case_keeps_the_first_organisation_aside_when_an_assessor_withdraws(
        world):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    a_orgs = await _orgs("T-A")
    check = await SpotCheck.select().where(SpotCheck.organisation_1.is_in(list(a_orgs))).first()
    first = await Assessment.select().where(Assessment.id == check["assessment"]).first()
    done = await service.record_finding(world.experts[0], check["id"], check["version"],
                                        finding="nonconform", notes="评分偏高")
    again = await Assessment.select().where(
        Assessment.application == done["application"]).first()
    leaving = await user_actor(again["assessor_1"])
    after = await withdrawal.withdraw(leaving, again["id"], expected_version=again["version"],
                                      reason="与被评估人为亲属")
    replacement = json.loads(after["draw"])["replacements"][0]
    aside = {e["user_id"] for e in replacement["exclusions"]}
    assert {first["assessor_1"], first["assessor_2"], world.experts[0].id} <= aside
    assert {a.id for a in world.a_team} <= aside
    assert after["assessor_1"] not in aside | {leaving.id}


async def test_an_expert_with_a_declared_conflict_does_not_check_the_person(world):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await SpotCheck.select().first()
    record = await Assessment.select(Assessment.application.person).where(
        Assessment.id == check["assessment"]).first()
    expert = world.experts[1]
    await AssessorConflict(assessor=expert.id, person=record["application.person"],
                           reason="邻居", declared_by=expert.id, declared_at=clock.now()).save()
    with pytest.raises(Forbidden) as refused:
        await service.record_finding(expert, check["id"], check["version"],
                                     finding="conform", notes="")
    assert "利害关系" in refused.value.message
    assert (await _check_of(check["assessment"]))["state"] == "PENDING"


async def test_nonconform_without_other_organisations_changes_nothing(world):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await SpotCheck.select().first()
    # Only one other assessor besides the excluded organisations and people: none to draw.
    from ltc.accounts.tables import User
    await User.update({User.active: False}).where(User.username.is_in(["b1", "b2", "c2",
                                                                       "c3", "a1", "a2"]))
    with pytest.raises(Conflict) as refused:
        await service.record_finding(world.experts[0], check["id"], check["version"],
                                     finding="nonconform", notes="等级偏高")
    assert refused.value.code == "not_enough_assessors"
    assert (await _check_of(check["assessment"]))["state"] == "PENDING"
    assert await Application.count().where(Application.origin == "spotcheck") == 0


async def test_the_bureau_lists_filters_and_sums_up(world):
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    checks = await SpotCheck.select().order_by(SpotCheck.id)
    await service.record_finding(world.experts[0], checks[0]["id"], checks[0]["version"],
                                 finding="conform", notes="")
    reviewer = world.staff.reviewer
    rows, matched = await queries.list_checks(reviewer, queries.filters_from(OCTOBER, None, ""))
    assert matched == 2 and len(rows) == 2
    _, pending = await queries.list_checks(reviewer, queries.filters_from(None, None,
                                                                          "pending"))
    _, conform = await queries.list_checks(reviewer, queries.filters_from(None, None,
                                                                          "conform"))
    assert (pending, conform) == (1, 1)
    org = checks[0]["organisation_1"]
    by_org, _ = await queries.list_checks(reviewer, queries.filters_from(None, org, ""))
    assert {r["id"] for r in by_org} == {checks[0]["id"]}
    organisations, assessors = queries.summary(rows)
    assert sum(t.sampled for t in organisations) == 2
    assert {(t.conform, t.rate) for t in organisations} == {(1, "100.0%"), (0, "—")}
    assert sum(t.sampled for t in assessors) == 4  # two assessors each
    with pytest.raises(InvalidInput):
        queries.filters_from(None, None, "maybe")
    with pytest.raises(Forbidden):
        await queries.list_checks(world.experts[0], queries.filters_from(None, None, ""))
    queue = await queries.expert_queue(world.experts[1])
    assert [r["id"] for r in queue] == [checks[1]["id"]]
    # The expert who recorded one sees it after those still waiting.
    assert [r["id"] for r in await queries.expert_queue(world.experts[0])] == [
        checks[1]["id"], checks[0]["id"]]
    participant = await user_actor(checks[1]["organisation_1"] and (
        await Assessment.select().where(Assessment.id == checks[1]["assessment"]).first()
    )["assessor_1"])
    assert await queries.expert_queue(participant) == []


async def test_the_monthly_job_draws_last_month(world):
    done = await jobs.draw_period("2026-11")
    assert done == [f"{CITY}: {CITY}@2026-10"]
    assert await jobs.draw_period("2026-11") == done  # a second delivery adds nothing
    assert await SpotCheckDraw.count() == 1 and await SpotCheck.count() == 2


async def test_ltc_spotcheck_draw_and_replay(world, settings, database_url):
    env = {"LTC_DATABASE_URL": database_url, "LTC_VAR_DIR": str(settings.var_dir)}
    if not database_url.startswith("sqlite"):
        env.update(LTC_SECRET_KEY="x" * 40, LTC_BROKER_URL="redis://127.0.0.1:6379/12")
    drawn = ltc("spotcheck", "draw", "--month", "2026-10", env=env)
    assert drawn.returncode == 0, drawn.stderr
    assert f"{CITY} 2026-10: 2 份抽查" in drawn.stdout
    replayed = ltc("spotcheck", "replay", "--month", "2026-10", "--region", CITY, env=env)
    assert replayed.returncode == 0 and "一致 / matches" in replayed.stdout
    bad = ltc("spotcheck", "draw", "--month", "October", env=env)
    assert bad.returncode == 2 and "invalid_month" in bad.stderr
    missing = ltc("spotcheck", "replay", "--month", "2026-09", env=env)
    assert missing.returncode == 2 and "spotcheck_draw_not_found" in missing.stderr
