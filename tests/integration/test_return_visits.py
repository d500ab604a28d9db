"""Return-visit sampling (回访抽样, issue 16 item 2): the month's draw (per provider, at least
the minimum, replay equals the stored draw, idempotent, by the job and the CLI), the clerk's
call (phone masked until opened, the read audited), its result (one result when two clerks
record at once; a denial sends the visit back to review), the list and the evaluation."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import FrozenClock, user_actor
from support.cli import ltc_on
from test_visits import at, december_world, log, visit

from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict, InvalidInput
from ltc.identity import SYSTEM
from ltc.people.tables import Person
from ltc.providers import service as providers
from ltc.returnvisits import jobs, queries, service
from ltc.returnvisits.tables import ReturnVisit, ReturnVisitDraw
from ltc.visits import queries as visit_queries
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio

DECEMBER = date(2026, 12, 1)
CITY = "370983"


@pytest.fixture
async def world(database_url, monkeypatch):
    """December: four visits accepted (the plan's four a month), a fifth flagged over the
    quota; then 5 January 2027."""
    world = await december_world(monkeypatch)
    frozen = FrozenClock(monkeypatch, date(2026, 12, 1))
    for day in (1, 3, 5, 8, 10):  # each logged on its day (10:00), so none is 补录
        frozen.set(date(2026, 12, day))
        await log(world.nurse, visit(world, started_at=at(day, 9), ended_at=at(day, 9, 45)))
    frozen.set(date(2027, 1, 5))
    return world


async def _accepted() -> set[int]:
    return {r["id"] for r in await Visit.select(Visit.id).where(Visit.review == "accepted")}


async def test_the_draw_takes_the_minimum_of_accepted_visits_and_replays(world):
    accepted = await _accepted()
    assert len(accepted) == 4 and await Visit.count() == 5  # one flagged: not a candidate
    with pytest.raises(Conflict) as refused:  # January has not ended
        await service.draw_month(world.staff.clerk, CITY, date(2027, 1, 1))
    assert refused.value.code == "month_not_ended"
    row = await service.draw_month(world.staff.clerk, CITY, DECEMBER)
    record = json.loads(row["record"])
    # 5 % of 4 rounds up to 1; the policy minimum of 3 per provider wins.
    assert (row["rate_basis_points"], row["minimum"]) == (500, 3)
    assert {c["visit_id"] for c in record["candidates"]} == accepted
    calls = await ReturnVisit.select().order_by(ReturnVisit.id)
    assert len(calls) == 3 and {c["visit"] for c in calls} <= accepted
    assert {(c["state"], c["provider"], c["person"]) for c in calls} == {
        ("PENDING", world.organisation_id, world.case.person_id)}
    replayed = await service.replay_month(world.staff.clerk, CITY, DECEMBER)
    assert replayed.matches and replayed.stored == [c["visit"] for c in calls]
    # Drawn again (a clerk, the job on its second delivery): the first draw stands.
    assert (await service.draw_month(world.staff.clerk, CITY, DECEMBER))["id"] == row["id"]
    assert await jobs.draw_period("2027-01") == [f"{CITY}: {CITY}@2026-12"]
    assert await ReturnVisitDraw.count() == 1 and await ReturnVisit.count() == 3
    drawn = await AuditEvent.select().where(AuditEvent.action == "returnvisit.drawn").first()
    assert drawn["actor_id"] == world.staff.clerk.id


async def test_the_same_seed_draws_the_same_visits(world, database_url, monkeypatch):
    row = await service.draw_month(SYSTEM, CITY, DECEMBER, seed="fixed-seed")
    chosen = json.loads(row["record"])["chosen"]
    from ltc.returnvisits import rules
    candidates = [rules.Candidate(v, world.organisation_id) for v in sorted(await _accepted())]
    assert rules.draw(candidates, "fixed-seed", 500, 3) == chosen


async def test_ltc_returnvisit_replay(world, settings, database_url):
    await jobs.draw_period("2027-01")
    replayed = await ltc_on(settings, database_url, "returnvisit", "replay",
                            "--month", "2026-12", "--region", CITY)
    assert replayed.returncode == 0, replayed.stderr
    assert "一致 / matches" in replayed.stdout.decode()
    missing = await ltc_on(settings, database_url, "returnvisit", "replay",
                           "--month", "2026-11")
    assert missing.returncode == 2 and b"returnvisit_draw_not_found" in missing.stderr


async def _first_call(world) -> dict:
    await service.draw_month(SYSTEM, CITY, DECEMBER)
    return await ReturnVisit.select().order_by(ReturnVisit.id).first()


async def test_two_clerks_recording_the_same_call_record_one_result(world):
    call = await _first_call(world)
    other = await user_actor((await make_user("clerk", username="clerk2"))["id"])
    answers = await asyncio.gather(*(service.record_result(
        clerk, call["id"], call["version"], outcome=outcome, satisfaction="5", note="没有来")
        for clerk, outcome in ((world.staff.clerk, "confirmed"), (other, "denied"))),
        return_exceptions=True)
    done = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(done) == 1 and len(refused) == 1, answers
    assert refused[0].code == "returnvisit_recorded" and refused[0].status_code == 409
    assert "已由" in refused[0].message and "只记录一个结果" in refused[0].message
    row = await ReturnVisit.select().where(ReturnVisit.id == call["id"]).first()
    assert (row["state"], row["outcome"]) == ("RECORDED", done[0]["outcome"])
    results = await AuditEvent.count().where(AuditEvent.action.like("returnvisit.%")
                                             & (AuditEvent.action != "returnvisit.drawn"))
    assert results == 1
    # The loser's denial left the visit alone when the confirmation won.
    review = (await Visit.select(Visit.review).where(Visit.id == call["visit"]).first())
    assert review["review"] == ("accepted" if row["outcome"] == "confirmed" else "flagged")


async def test_a_denial_sends_the_visit_back_to_the_reviewer(world):
    call = await _first_call(world)
    reviewer = world.staff.reviewer
    waiting = await visit_queries.review_queue_count(reviewer)
    await service.record_result(world.staff.clerk, call["id"], call["version"],
                                outcome="denied", satisfaction="1", note="家属说当天没有人来")
    row = await Visit.select().where(Visit.id == call["visit"]).first()
    assert row["review"] == "flagged"
    assert [f["code"] for f in json.loads(row["flags"])] == ["return_visit_denied"]
    assert "家属说当天没有人来" in json.loads(row["flags"])[0]["message"]
    assert await visit_queries.review_queue_count(reviewer) == waiting + 1
    events = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.object_id == str(call["visit"]))]
    assert "visit.concern_raised" in events and "returnvisit.denied" in events


async def test_a_bad_entry_names_every_problem_and_changes_nothing(world):
    call = await _first_call(world)
    with pytest.raises(InvalidInput) as refused:
        await service.record_result(world.staff.clerk, call["id"], call["version"],
                                    outcome="denied", satisfaction="", note=" ")
    assert set(refused.value.fields) == {"satisfaction", "note"}
    row = await ReturnVisit.select().where(ReturnVisit.id == call["id"]).first()
    assert row["state"] == "PENDING" and row["version"] == call["version"]
    unreachable = await service.record_result(world.staff.clerk, call["id"], call["version"],
                                              outcome="unreachable", satisfaction="3", note="")
    assert unreachable["satisfaction"] is None  # nobody answered: no score


async def test_the_clerk_opens_the_call_and_records_it_over_http(client, world):
    call = await _first_call(world)
    phone = (await Person.select(Person.phone).where(
        Person.id == world.case.person_id).first())["phone"]
    masked = phone[:3] + "****" + phone[-4:]
    assert (await sign_in(client, "clerk")).status_code == 302
    listed = (await client.get("/return-visits", params={"result": "pending"})).text
    assert masked in listed and phone not in listed and "待回访" in listed
    shown = (await client.get(f"/return-visits/{call['id']}")).text
    assert masked in shown and phone not in shown and "回访话术" in shown
    assert await AuditEvent.count().where(AuditEvent.action == "returnvisit.phone_read") == 0
    opened = (await client.get(f"/return-visits/{call['id']}/call")).text
    assert phone in opened and "家属的答复" in opened
    read = await AuditEvent.select().where(
        AuditEvent.action == "returnvisit.phone_read").first()
    assert read["object_id"] == str(world.case.person_id)
    token = await csrf_token(client, f"/return-visits/{call['id']}")
    bad = await client.post(f"/return-visits/{call['id']}/result", data={
        "_csrf_token": token, "expected_version": str(call["version"]), "outcome": "confirmed"})
    assert bad.status_code == 422 and "请选择满意度" in bad.text
    form = {"_csrf_token": token, "expected_version": str(call["version"]),
            "outcome": "confirmed", "satisfaction": "4", "note": "服务很好"}
    done = await client.post(f"/return-visits/{call['id']}/result", data=form,
                             follow_redirects=False)
    assert done.status_code in (302, 303)
    again = await client.post(f"/return-visits/{call['id']}/result", data=form)
    assert again.status_code == 409 and "只记录一个结果" in again.text
    page = (await client.get(f"/return-visits/{call['id']}")).text
    assert "确认属实" in page and "满意度 4 分" in page
    # The evaluation shows the sample beside the other rates.
    evaluation = (await client.get("/evaluation", params={"month": "2026-12"})).text
    assert "回访抽样" in evaluation and "确认率" in evaluation
    exported = (await client.get("/evaluation/export.csv", params={"month": "2026-12"})).text
    assert "回访确认率" in exported


async def test_the_list_filters_and_the_evaluation_counts(world):
    await service.draw_month(SYSTEM, CITY, DECEMBER)
    calls = await ReturnVisit.select().order_by(ReturnVisit.id)
    clerk = world.staff.clerk
    for call, outcome in zip(calls, ("confirmed", "denied", "unreachable"), strict=True):
        await service.record_result(clerk, call["id"], call["version"], outcome=outcome,
                                    satisfaction="" if outcome == "unreachable" else "3",
                                    note="没有来" if outcome == "denied" else "")
    for result, expected in (("", 3), ("pending", 0), ("denied", 1), ("confirmed", 1)):
        rows, matched = await queries.list_calls(clerk, queries.filters_from(
            DECEMBER, world.organisation_id, result))
        assert matched == expected == len(rows), result
    rows, matched = await queries.list_calls(clerk, queries.filters_from(None, None, "", "张"))
    assert matched == 3 and all(re.fullmatch(r"\d{3}\*+\d{4}", r["phone"]) for r in rows)
    with pytest.raises(InvalidInput):
        queries.filters_from(None, None, "maybe")
    figures = {r["provider"]: r for r in await providers.evaluation(clerk, DECEMBER)}
    mine = figures[world.organisation_id]
    assert (mine["returns_sampled"], mine["returns_reached"], mine["returns_denied"],
            mine["returns_confirmed_rate"]) == (3, 2, 1, "50.0%")
    # The denied visit no longer counts as accepted work.
    assert mine["accepted"] == 3
    # The two families reached gave 3 points each: they count in 满意率 (no other survey).
    assert (mine["surveys"], mine["satisfied"], mine["mean_score"]) == (2, 0, 30)
    assert await queries.pending_count(clerk) == 0


async def test_a_clerk_draws_a_month_on_demand_and_providers_stay_out(client, world):
    assert (await sign_in(client, "clerk")).status_code == 302
    token = await csrf_token(client, "/return-visits")
    for month, status, message in (("2027-01", 409, "尚未结束"),
                                   ("一月", 422, "请按“年-月”填写月份")):
        refused = await client.post("/return-visits/draw", data={
            "_csrf_token": token, "region": CITY, "month": month})
        assert refused.status_code == status and message in refused.text, month
    assert await ReturnVisitDraw.count() == 0
    done = await client.post("/return-visits/draw", data={
        "_csrf_token": token, "region": CITY, "month": "2026-12"}, follow_redirects=False)
    assert done.status_code in (302, 303)
    page = (await client.get("/return-visits")).text
    assert "按种子重新抽取，结果一致" in page and page.count("待回访") >= 3
    assert await ReturnVisit.count() == 3
    client.cookies.clear()
    assert (await sign_in(client, "nurse")).status_code == 302
    assert (await client.get("/return-visits")).status_code == 403
    call = await ReturnVisit.select().first()
    assert (await client.get(f"/return-visits/{call['id']}/call")).status_code == 403
