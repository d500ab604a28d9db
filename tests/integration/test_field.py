"""The field pages' server side (issue 19): the worklist a device keeps for working offline
(scoped to the signed-in user, audited), visits recorded offline that come back flagged —
not refused — when something changed while they waited, and the assessment draft API that
is safe to send again."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from conftest import csrf_token, make_user, sign_in
from integration.test_visits import World, at, december_world, visit
from support.cases import assessment_version, assigned_case, make_staff, register, user_actor

from ltc.accounts.tables import User
from ltc.assessments import service as assessments_service
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.careplans.tables import CarePlan, CarePlanLetter
from ltc.clock import CHINA
from ltc.errors import Forbidden, InvalidInput, NotFound
from ltc.organisations.tables import Organisation, OrganisationStatusChange
from ltc.people.tables import Person
from ltc.visits import logging as visit_logging
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio
OFFLINE_AT = at(14, 10)  # the nurse saved it on the phone right after the visit
SIGNATURE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    return await december_world(monkeypatch)


async def _username(user_id: int) -> str:
    return (await User.select(User.username).where(User.id == user_id).first())["username"]


async def _worklist(client, username: str):
    assert (await sign_in(client, username)).status_code in (302, 303)
    return await client.get("/api/v1/field/worklist")


async def test_a_nurse_gets_the_beneficiaries_plan_items_and_address_and_the_read_is_audited(
        client, world: World) -> None:
    await Person.update({Person.address: "王庄村3组12号"}).where(
        Person.id == world.case.person_id)
    response = await _worklist(client, "nurse")
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "provider" and body["user_id"] == world.nurse.id
    [beneficiary] = body["beneficiaries"]
    assert beneficiary["person_id"] == world.case.person_id
    assert beneficiary["name"] == "张秀英" and beneficiary["address"] == "王庄村3组12号"
    items = {i["code"]: i for i in beneficiary["items"]}
    assert items["B21"]["required"] and items["C05"]["nurse_only"] and "B02" in items
    assert body["assessments"] == [] and body["instrument"] == []
    [event] = await AuditEvent.select().where(AuditEvent.action == "field.worklist_read")
    assert event["actor_id"] == world.nurse.id
    assert json.loads(event["summary"])["after"]["read"] == [world.case.person_id]


async def test_another_providers_staff_see_none_of_them_and_other_roles_are_refused(
        client, world: World) -> None:
    await make_user("provider", username="elsewhere", organisation="T-P2")
    assert (await _worklist(client, "elsewhere")).json()["beneficiaries"] == []
    client.cookies.clear()
    refused = await _worklist(client, "clerk")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "wrong_role"


async def test_an_assessor_gets_only_their_assigned_assessments_with_the_17_items(
        client, database_url) -> None:
    staff = await make_staff(assessors=3)
    person = await register(staff, name="刘桂兰")
    assessment = await assigned_case(staff, person)
    assigned = {assessment["assessor_1"], assessment["assessor_2"]}
    mine = next(a for a in staff.assessors if a.id in assigned)
    other = next(a for a in staff.assessors if a.id not in assigned)
    body = (await _worklist(client, await _username(mine.id))).json()
    [shown] = body["assessments"]
    assert shown["id"] == assessment["id"] and shown["name"] == "刘桂兰"
    assert shown["address"] == "1组1号" and shown["version"] == assessment["version"]
    assert len(body["instrument"]) == 17 and body["beneficiaries"] == []
    client.cookies.clear()
    assert (await _worklist(client, await _username(other.id))).json()["assessments"] == []


async def test_a_resent_draft_answers_again_and_a_different_stale_one_is_refused(
        client, database_url) -> None:
    staff = await make_staff(assessors=2)
    assessment = await assigned_case(staff, await register(staff, name="刘桂兰"))
    assessor = next(a for a in staff.assessors if a.id == assessment["assessor_1"])
    await sign_in(client, await _username(assessor.id))
    headers = {"x-csrftoken": await csrf_token(client, "/field")}
    body = {"version": await assessment_version(assessment["id"]),
            "scores": {"eating": 5, "bathing": 0}}
    url = f"/api/v1/assessments/{assessment['id']}/draft"
    first = await client.put(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    # The answer was lost on the way back; the device sends the same draft again.
    again = await client.put(url, json=body, headers=headers)
    assert again.status_code == 200 and again.json()["version"] == first.json()["version"]
    assert await AuditEvent.count().where(AuditEvent.action == "assessment.draft_saved") == 1
    changed = await client.put(url, json={**body, "scores": {"eating": 10}}, headers=headers)
    assert changed.status_code == 409
    assert (await client.get(f"/api/v1/assessments/{assessment['id']}")).json()["scores"] == {
        "eating": 5, "bathing": 0}


async def test_a_draft_resent_over_a_newer_one_keeps_what_the_full_form_recorded(
        client, database_url) -> None:
    """以本机评分覆盖并重新上传 sends the device's scores with every other draft field as
    GET /api/v1/assessments/{id} answers them: times on site, position and guardian recorded
    on the full form meanwhile survive."""
    staff = await make_staff(assessors=2)
    assessment = await assigned_case(staff, await register(staff, name="刘桂兰"))
    assessor = next(a for a in staff.assessors if a.id == assessment["assessor_1"])
    colleague = await user_actor(assessment["assessor_2"])
    arrived = datetime(2026, 12, 1, 9, 0, tzinfo=CHINA)
    await assessments_service.save_draft(
        colleague, assessment["id"], expected_version=await assessment_version(assessment["id"]),
        scores={"eating": 5}, onsite_started_at=arrived, latitude=35.9, longitude=116.7,
        guardian_name="李明", guardian_relationship="子女", guardian_phone="13900000000")
    await sign_in(client, await _username(assessor.id))
    current = (await client.get(f"/api/v1/assessments/{assessment['id']}")).json()
    assert current["latitude"] == 35.9 and current["guardian_name"] == "李明"
    body = {name: current[name] for name in (
        "onsite_started_at", "onsite_ended_at", "latitude", "longitude", "guardian_name",
        "guardian_relationship", "guardian_phone")}
    answer = await client.put(
        f"/api/v1/assessments/{assessment['id']}/draft",
        json={**body, "version": current["version"], "scores": {"eating": 10}},
        headers={"x-csrftoken": await csrf_token(client, "/field")})
    assert answer.status_code == 200, answer.text
    stored = await Assessment.select().where(Assessment.id == assessment["id"]).first()
    assert json.loads(stored["scores"]) == {"eating": 10}
    assert stored["onsite_started_at"] == arrived and stored["longitude"] == 116.7
    assert (stored["guardian_name"], stored["guardian_relationship"]) == ("李明", "子女")


async def _stop(world: World, status: str, effective_on: date) -> None:
    """The provider's register status changes (as ltc.organisations records it)."""
    await Organisation.update({Organisation.status: status, Organisation.active: False}).where(
        Organisation.id == world.organisation_id)
    await OrganisationStatusChange(organisation=world.organisation_id, status=status,
                                   effective_on=effective_on, reason="稽核").save()


async def test_a_visit_recorded_offline_by_a_provider_suspended_since_is_logged_flagged(
        world: World) -> None:
    await _stop(world, "suspended", date(2026, 12, 15))  # the visit was on the 14th
    with pytest.raises(Forbidden) as refused:  # sent as it was recorded: refused as before
        await visit_logging.log_visit(world.nurse, **visit(world))
    assert refused.value.code == "provider_not_active"
    answer, _ = await visit_logging.log_visit(world.nurse, **visit(world),
                                              recorded_at=OFFLINE_AT)
    assert answer["review"] == "flagged"
    [flag] = answer["flags"]
    assert flag["code"] == "provider_inactive"
    assert "暂停" in flag["message"] and "2026-12-14 10:00" in flag["message"]
    assert await Visit.count() == 1


@pytest.mark.parametrize("effective_on", [date(2026, 12, 14), date(2026, 12, 1)])
async def test_offline_is_no_way_round_a_suspension_in_force_on_the_visit_day(
        world: World, effective_on: date) -> None:
    await _stop(world, "suspended", effective_on)
    with pytest.raises(Forbidden) as refused:
        await visit_logging.log_visit(world.nurse, **visit(world), recorded_at=OFFLINE_AT)
    assert refused.value.code == "provider_not_active"
    assert await Visit.count() == 0


@pytest.mark.parametrize(("recorded_at", "says"), [
    (at(14, 8), "早于服务开始时间"),  # before the visit (09:00–09:45) began
    (datetime(2027, 1, 1, tzinfo=CHINA), "晚于当前时间"),  # tomorrow and later
])
async def test_a_recorded_at_the_visit_could_not_have_is_refused_beside_its_field(
        world: World, recorded_at: datetime, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await visit_logging.log_visit(world.nurse, **visit(world), recorded_at=recorded_at)
    assert says in refused.value.fields["recorded_at"]
    assert await Visit.count() == 0


async def _move_plan(world: World, day: date) -> None:
    """The beneficiary's next plan version, from `day`, names another provider."""
    await make_user("provider", username="elsewhere", organisation="T-P2")
    other = await Organisation.select(Organisation.id).where(
        Organisation.code == "T-P2").first()
    plan = await CarePlan.select().where(CarePlan.id == world.plan_id).first()
    await CarePlan.update({CarePlan.state: "SUPERSEDED"}).where(CarePlan.id == world.plan_id)
    await CarePlan(**{**{k: v for k, v in plan.items() if k != "id"}, "plan_no": 2,
                      "provider": other["id"], "starts_on": day}).save()


async def test_a_visit_recorded_offline_after_the_plan_moved_elsewhere_is_logged_flagged(
        world: World) -> None:
    await _move_plan(world, date(2026, 12, 10))
    # The family signed on the phone (the household PIN now belongs to the other provider's
    # plan: it is refused, and the device keeps the record with the reason).
    signed = visit(world, confirmation_code="", signature_png=SIGNATURE)
    with pytest.raises(NotFound):  # not recorded offline: not this provider's beneficiary
        await visit_logging.log_visit(world.nurse, **signed)
    answer, _ = await visit_logging.log_visit(world.nurse, **signed, recorded_at=OFFLINE_AT)
    codes = [f["code"] for f in answer["flags"]]
    assert answer["review"] == "flagged" and "plan_changed" in codes
    assert "改由其他机构" in answer["flags"][codes.index("plan_changed")]["message"]


async def test_a_visit_recorded_offline_whose_pin_went_with_the_plan_is_logged_flagged(
        client, world: World) -> None:
    # The visit on the 14th was this provider's; from today (the 15th) the plan, and the
    # household PIN with it, is another provider's; the only letter was made today, after
    # the visit, so there is no PIN of the visit's day to check it against.
    await _move_plan(world, date(2026, 12, 15))
    with pytest.raises(InvalidInput) as refused:  # sent as it was recorded: refused as before
        await visit_logging.log_visit(world.nurse, **visit(world))
    assert refused.value.code == "pin_not_in_force"
    offline = visit(world)
    answer, replayed = await visit_logging.log_visit(world.nurse, **offline,
                                                     recorded_at=OFFLINE_AT)
    assert not replayed and answer["review"] == "flagged"
    assert [f["code"] for f in answer["flags"]] == ["pin_unchecked"]
    # The device did not hear the answer and sends it again: the same visit, once.
    again, replayed = await visit_logging.log_visit(world.nurse, **offline,
                                                    recorded_at=OFFLINE_AT)
    assert replayed and again == answer and await Visit.count() == 1
    # Its PIN confirmed nothing: the row is marked apart, and its page does not say it was.
    row = await Visit.select(Visit.confirmation_code).where(Visit.id == answer["id"]).first()
    assert row["confirmation_code"] == "PIN_UNCHECKED"
    await sign_in(client, "nurse")
    page = (await client.get(f"/visits/{answer['id']}")).text
    assert "离线填写的家庭确认码未能核对" in page and "已用家庭确认码确认" not in page


async def test_an_offline_pin_is_checked_against_the_letter_of_the_visits_day(
        world: World) -> None:
    """The plan (and its PIN) moved on today; the letter the family held on the visit's day
    is still kept: the PIN typed then is checked against it, right or wrong."""
    await CarePlanLetter.update({CarePlanLetter.created_at: at(1, 9)}).where(
        CarePlanLetter.person == world.case.person_id)
    await _move_plan(world, date(2026, 12, 15))
    with pytest.raises(InvalidInput) as refused:
        await visit_logging.log_visit(world.nurse, **visit(world, confirmation_code="000000"),
                                      recorded_at=OFFLINE_AT)
    assert refused.value.code == "wrong_pin"
    answer, _ = await visit_logging.log_visit(world.nurse, **visit(world),
                                              recorded_at=OFFLINE_AT)
    assert answer["review"] == "accepted" and answer["flags"] == []
    row = await Visit.select(Visit.confirmation_code).where(Visit.id == answer["id"]).first()
    assert row["confirmation_code"] == "PIN"


async def test_the_api_reads_recorded_at_and_refuses_one_without_a_zone(
        client, world: World) -> None:
    await sign_in(client, "nurse")
    headers = {"x-csrftoken": await csrf_token(client, "/field")}
    values = visit(world)
    body = {**values, "started_at": values["started_at"].isoformat(),
            "ended_at": values["ended_at"].isoformat(), "recorded_at": "2026-12-14T10:00"}
    refused = await client.post("/api/v1/visits", json=body, headers=headers)
    assert refused.status_code == 422
    assert "recorded_at" in refused.json()["error"]["fields"]
    await _stop(world, "exited", date(2026, 12, 15))
    logged = await client.post("/api/v1/visits", headers=headers,
                               json={**body, "recorded_at": OFFLINE_AT.isoformat()})
    assert logged.status_code == 201, logged.text
    assert [f["code"] for f in logged.json()["flags"]] == ["provider_inactive"]
    replayed = await client.post("/api/v1/visits", headers=headers,
                                 json={**body, "recorded_at": OFFLINE_AT.isoformat()})
    assert replayed.status_code == 200 and replayed.headers["X-LTC-Replayed"] == "true"
    assert await Visit.count() == 1


async def test_the_shell_is_for_field_roles_and_its_worker_is_public_and_versioned(
        client, world: World) -> None:
    worker = await client.get("/field-sw.js")  # not signed in: a browser fetches it alone
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert worker.headers["cache-control"] == "no-cache"
    assert "__VERSION__" not in worker.text and "ltc-field-" in worker.text
    assert '"/field", "/static/ltc.css"' in worker.text and "http" not in worker.text
    await sign_in(client, "nurse")
    shell = await client.get("/field")
    assert shell.status_code == 200
    assert 'rel="manifest" href="/static/field.webmanifest"' in shell.text
    assert "待上传 0 条" in shell.text and "张秀英" not in shell.text  # no personal data
    manifest = (await client.get("/static/field.webmanifest")).json()
    assert manifest["start_url"] == "/field" and manifest["scope"] == "/field"
    client.cookies.clear()
    await sign_in(client, "clerk")
    assert (await client.get("/field")).status_code == 403
