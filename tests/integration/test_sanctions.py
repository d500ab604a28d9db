"""Sanctions (21号文), the ban register and a provider's exit, through the services and the
pages: a suspended member of staff cannot log visits for the period and can again after it;
a banned legal representative's organisation signs nothing; an organisation's sanction
suspends its agreement and shows on the public list without personal data; an exit needs
three months' notice, hands every client over before it completes, and nothing is covered
for the exiting provider from the exit day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import csrf_token, make_user, sign_in
from integration.test_visits import PLAN_ITEMS, _agreement, at, december_world, log, visit
from support.cases import FrozenClock, entitled_case, user_actor

from ltc import clock, db
from ltc.agreements import service as agreements
from ltc.agreements.tables import Agreement
from ltc.audit.tables import AuditEvent
from ltc.careplans import service as careplans
from ltc.careplans.tables import CarePlan
from ltc.demo import signature_png
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.regions.tables import Region
from ltc.sanctions import service
from ltc.sanctions.rules import town_of
from ltc.sanctions.tables import Ban, HandoverItem, ProviderExit
from ltc.staff.tables import StaffMember

pytestmark = pytest.mark.anyio

BANNED_ID = "370983198001011239"


@pytest.fixture
async def world(database_url, monkeypatch):
    return await december_world(monkeypatch)  # today 2026-12-15


def _sanction(**changes):
    return {"target": "staff", "measure": "suspend", "category": "false_records",
            "reason": "伪造家属签名", "legal_basis": "服务协议第十二条",
            "starts_on": "2026-12-10", "ends_on": "2026-12-14", **changes}


async def test_a_suspended_staff_member_cannot_log_visits_in_the_period(world) -> None:
    member = await StaffMember.select(StaffMember.id).where(
        StaffMember.user == world.nurse.id).first()
    await service.record_sanction(world.staff.clerk, _sanction(party=member["id"]))
    with pytest.raises(InvalidInput) as refused:
        await log(world.nurse, visit(world))  # 14 December: the period's last day
    assert refused.value.code == "staff_sanctioned"
    assert "暂停" in refused.value.fields["staff_id"]
    # The day after the period they log again; another member was never stopped.
    assert (await log(world.nurse, visit(world, started_at=at(15, 8),
                                         ended_at=at(15, 8, 45))))["id"]
    assert (await log(world.carer, visit(world)))["id"]
    event = await AuditEvent.select().where(AuditEvent.action == "sanction.recorded").first()
    assert (event["object_type"], event["object_id"]) == ("staff", str(member["id"]))


async def test_the_api_refuses_a_suspended_member_with_a_stable_code(client, world) -> None:
    from ltc.accounts import service as accounts
    from ltc.identity import SYSTEM

    member = await StaffMember.select(StaffMember.id).where(
        StaffMember.user == world.nurse.id).first()
    await service.record_sanction(world.staff.clerk, _sanction(
        party=member["id"], measure="terminate", ends_on=""))
    token, _ = await accounts.issue_token(SYSTEM, name="上门护理App", role="provider",
                                          region_code="370983", organisation_code="T-P")
    body = {k: v.isoformat() if hasattr(v, "isoformat") else v
            for k, v in visit(world, staff_id=world.nurse.id).items()}
    answer = await client.post("/api/v1/visits", json=body,
                               headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "staff_sanctioned" and "取消" in error["fields"]["staff_id"]
    # The clerk sees it on the member's page, in its timeline.
    assert (await sign_in(client, "clerk")).status_code == 302
    page = await client.get(f"/staff/{member['id']}")
    assert "记录处理决定" in page.text and "伪造家属签名" in page.text


async def test_a_sanction_with_problems_tells_them_all_and_writes_nothing(world) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.record_sanction(world.staff.clerk, _sanction(
            party="", category="", legal_basis="", ends_on="2026-12-01"))
    assert set(refused.value.fields) == {"party", "category", "legal_basis", "ends_on"}
    assert not await service.list_sanctions(world.staff.clerk)


async def test_an_organisations_sanction_suspends_its_agreement_and_is_public(
        client, world) -> None:
    await service.record_sanction(world.staff.clerk, _sanction(
        target="organisation", party=str(world.organisation_id), category="fraud",
        reason="虚报服务次数，涉及张某", starts_on="2026-12-16", ends_on="2027-03-15"))
    provider = await Agreement.select().where(
        (Agreement.organisation == world.organisation_id) & (Agreement.kind == "provider")
    ).first()
    assert provider["state"] == "SUSPENDED" and provider["state_changed_on"] == date(2026, 12, 16)
    assert await agreements.active_agreement("provider", on=date(2026, 12, 16),
                                             organisation=world.organisation_id) is None
    # The public list: no sign-in, the organisation, measure, category, period; no reason.
    page = await client.get("/public/sanctions")
    assert page.status_code == 200
    assert "新城街道社区卫生服务中心" in page.text and "暂停协议" in page.text
    assert "骗取长护险基金" in page.text and "2027-03-15" in page.text
    assert "张某" not in page.text
    assert 'href="/public/sanctions"' in (await client.get("/login")).text


async def test_an_organisations_suspension_ends_without_covering_its_days(world) -> None:
    await service.record_sanction(world.staff.clerk, _sanction(
        target="organisation", party=str(world.organisation_id), category="quality",
        starts_on="2026-12-16", ends_on="2027-01-15"))
    assert await service.daily(date(2027, 1, 15)) == 0  # the period's last day
    assert await service.daily(date(2027, 1, 16)) == 1
    assert await service.daily(date(2027, 1, 17)) == 0  # once
    org = world.organisation_id

    async def covered(day: date) -> bool:
        return await agreements.active_agreement("provider", on=day, organisation=org) is not None

    assert [await covered(d) for d in (date(2026, 12, 15), date(2026, 12, 16),
                                       date(2027, 1, 15), date(2027, 1, 16))] == [
        True, False, False, True]
    event = await AuditEvent.select().where(AuditEvent.action == "agreement.reinstated").first()
    assert event is not None


async def _assessment_organisation(legal_id: str) -> int:
    region = await Region.select(Region.id).where(Region.code == "370983").first()
    row = Organisation(code="T-A9", name="测试评估机构九", kind="assessment", category="assessment",
                       region=region["id"], legal_representative="王某",
                       legal_representative_id=legal_id)
    await row.save()
    return row.id


async def test_a_banned_legal_representative_stops_signing(world) -> None:
    clerk = world.staff.clerk
    organisation = await _assessment_organisation(BANNED_ID)
    period = {"starts_on": date(2027, 1, 1), "ends_on": date(2027, 12, 31)}
    draft = await agreements.create_agreement(clerk, "assessment", organisation=organisation,
                                              **period)
    with pytest.raises(InvalidInput) as refused:
        await service.record_ban(clerk, {"resident_id": "123", "name": "", "category": "fraud",
                                         "reason": "x", "legal_basis": "y",
                                         "starts_on": "2026-12-01", "ends_on": ""})
    assert set(refused.value.fields) == {"resident_id", "name", "ends_on"}
    await service.record_ban(clerk, {"resident_id": BANNED_ID, "name": "王某",
                                     "category": "fraud", "reason": "骗取基金",
                                     "legal_basis": "21号文", "starts_on": "2026-12-01",
                                     "ends_on": "2029-11-30"})
    with pytest.raises(InvalidInput) as refused:
        await agreements.create_agreement(clerk, "assessment", organisation=organisation,
                                          **period)
    assert "禁入名单" in refused.value.fields["organisation"]
    with pytest.raises(Conflict) as refused:
        await agreements.activate(clerk, draft["id"], draft["version"])
    assert refused.value.code == "legal_representative_banned"
    rows = await service.list_bans(clerk, q=BANNED_ID)
    assert [r["name"] for r in rows] == ["王某"]


async def test_a_suspension_ends_without_reinstating_a_banned_representatives_agreement(
        world) -> None:
    org = world.organisation_id
    await Organisation.update({Organisation.legal_representative_id: BANNED_ID}).where(
        Organisation.id == org)
    await service.record_sanction(world.staff.clerk, _sanction(
        target="organisation", party=str(org), category="quality",
        starts_on="2026-12-16", ends_on="2027-01-15"))
    await service.record_ban(world.staff.clerk, {
        "resident_id": BANNED_ID, "name": "王某", "category": "fraud", "reason": "骗取基金",
        "legal_basis": "21号文", "starts_on": "2026-12-10", "ends_on": "2029-11-30"})
    assert await service.daily(date(2027, 1, 16)) == 0
    provider = await Agreement.select().where(
        (Agreement.organisation == org) & (Agreement.kind == "provider")).first()
    assert provider["state"] == "SUSPENDED"
    with pytest.raises(Conflict) as refused:
        await agreements.reinstate(world.staff.clerk, provider["id"], provider["version"],
                                   from_day=date(2027, 1, 16), reason="恢复")
    assert refused.value.code == "legal_representative_banned"


# --- a provider's exit -------------------------------------------------------------------------

async def _second_provider(world, username: str, code: str, towns: str) -> int:
    nurse = await user_actor((await make_user("provider", username=username,
                                              organisation=code))["id"])
    await Organisation.update({Organisation.service_towns: towns}).where(
        Organisation.id == nurse.organisation_id)
    await _agreement("provider", nurse.organisation_id, date(2026, 1, 1), date(2028, 12, 31))
    await _agreement("staff", nurse.organisation_id, date(2026, 1, 1), date(2028, 12, 31),
                     staff=nurse.id, qualification="nurse")
    return nurse.organisation_id


async def _town(world) -> str:
    person = await Person.select(Person.region_path).where(
        Person.id == world.case.person_id).first()
    return town_of(person["region_path"])


async def _renewal(world) -> dict:
    """The provider's agreement renewed ahead: a second one from the day after the first."""
    current = await Agreement.select().where(
        (Agreement.organisation == world.organisation_id) & (Agreement.kind == "provider")
    ).first()
    starts_on = current["ends_on"] + timedelta(days=1)
    renewal = await _agreement("provider", world.organisation_id, starts_on,
                               starts_on + timedelta(days=364))
    return await Agreement.select().where(Agreement.id == renewal).first()


async def test_a_sanction_reaches_an_agreement_renewed_ahead_only_within_its_period(
        world) -> None:
    renewal = await _renewal(world)
    org = world.organisation_id
    await service.record_sanction(world.staff.clerk, _sanction(
        target="organisation", party=str(org), category="quality",
        starts_on="2026-12-16", ends_on="2027-01-15"))  # before the renewal begins
    assert (await Agreement.select().where(Agreement.id == renewal["id"]).first())[
        "state"] == "ACTIVE"
    await service.record_sanction(world.staff.clerk, _sanction(
        target="organisation", party=str(org), category="fraud", measure="terminate",
        starts_on="2026-12-20", ends_on=""))
    rows = await Agreement.select().where(
        (Agreement.organisation == org) & (Agreement.kind == "provider")).order_by(Agreement.id)
    assert [r["state"] for r in rows] == ["TERMINATED", "TERMINATED"]
    for day in (date(2026, 12, 20), renewal["starts_on"], renewal["ends_on"]):
        assert await agreements.active_agreement("provider", on=day, organisation=org) is None


async def test_an_exit_hands_every_client_over_before_it_completes(world, monkeypatch) -> None:
    clerk = world.staff.clerk
    renewal = await _renewal(world)
    town = await _town(world)
    nearby = await _second_provider(world, "nurse2", "T-P2", town)
    await _second_provider(world, "nurse3", "T-P3", "370983999")  # another town: not proposed
    exit_on = date(2027, 3, 15)  # exactly three months after 2026-12-15
    notice = {"organisation": str(world.organisation_id), "reason": "机构转型，不再提供居家护理"}
    with pytest.raises(InvalidInput) as refused:
        await service.give_notice(clerk, {**notice, "exit_on": "2027-03-14"})
    assert "2027-03-15" in refused.value.fields["exit_on"]
    row = await service.give_notice(clerk, {**notice, "exit_on": exit_on.isoformat()})
    with pytest.raises(Conflict) as refused:  # one exit in hand per provider
        await service.give_notice(clerk, {**notice, "exit_on": "2027-06-01"})
    assert refused.value.code == "exit_open"
    with pytest.raises(db.UNIQUE_VIOLATIONS):  # the database holds it too (two at once)
        await ProviderExit(organisation=world.organisation_id, region_path="370983",
                           notice_on=date(2026, 12, 15), exit_on=date(2027, 6, 1),
                           state="OPEN").save()
    worklist = await service.get_exit(clerk, row["id"])
    assert [(i["person"], i["proposed"]) for i in worklist["items"]] == [
        (world.case.person_id, nearby)]
    with pytest.raises(Conflict) as refused:
        await service.complete_exit(clerk, row["id"], row["version"])
    assert refused.value.code == "handover_open" and "1 名" in refused.value.message
    assert await service.open_exit_count(clerk) == 1

    item = worklist["items"][0]
    with pytest.raises(InvalidInput):  # the exiting provider cannot take its own client
        await service.hand_over(clerk, item["id"], item["version"], world.organisation_id)
    await service.hand_over(clerk, item["id"], item["version"], nearby)
    # No plan names the exiting provider from its exit day on.
    with pytest.raises(InvalidInput) as refused:
        await careplans.propose_plan(clerk, world.entitlement_id, care_form="home",
                                     provider_id=world.organisation_id,
                                     family_caregiver_agreement_id=None, items=PLAN_ITEMS,
                                     starts_on=date(2027, 4, 1))
    assert "2027-03-15 退出" in refused.value.fields["provider"]
    # A client it took on after the notice (a plan from January) joins the list when the
    # clerk tries to complete, and stops it until handed over too.
    FrozenClock(monkeypatch, date(2026, 11, 20))
    other, other_entitlement = await entitled_case(world.staff, name="李桂兰",
                                                   decided_on=date(2026, 11, 28))
    FrozenClock(monkeypatch, date(2026, 12, 15))
    await careplans.propose_plan(clerk, other_entitlement, care_form="home",
                                 provider_id=world.organisation_id,
                                 family_caregiver_agreement_id=None, items=PLAN_ITEMS,
                                 starts_on=date(2027, 1, 1))
    with pytest.raises(Conflict) as refused:
        await service.complete_exit(clerk, row["id"], row["version"])
    assert "1 名" in refused.value.message
    late = [i for i in (await service.get_exit(clerk, row["id"]))["items"]
            if i["state"] == "OPEN"]
    assert [(i["person"], i["proposed"]) for i in late] == [(other.person_id, nearby)]
    await service.hand_over(clerk, late[0]["id"], late[0]["version"], nearby)
    await service.complete_exit(clerk, row["id"], row["version"])

    # No beneficiary is without a provider on the exit day: each has the new provider's plan.
    for entry in await HandoverItem.select().where(HandoverItem.provider_exit == row["id"]):
        on_exit = await careplans.plan_on(entry["entitlement"], exit_on)
        assert on_exit is not None and on_exit["provider"] == nearby
        before = await careplans.plan_on(entry["entitlement"], exit_on - timedelta(days=1))
        assert before["provider"] == world.organisation_id  # served until the day before
    new_plan = await CarePlan.select().where(CarePlan.provider == nearby).first()
    assert new_plan["state"] == "ACTIVE" and new_plan["starts_on"] == exit_on
    # The exiting provider's agreement covers nothing from the exit day: no visit of its
    # is logged or paid after it (payouts price a visit only under a covering agreement).
    assert await agreements.active_agreement("provider", on=exit_on - timedelta(days=1),
                                             organisation=world.organisation_id)
    assert await agreements.active_agreement("provider", on=exit_on,
                                             organisation=world.organisation_id) is None
    # The agreement it had renewed ahead ends with it and never covers a day.
    assert (await Agreement.select().where(Agreement.id == renewal["id"]).first())[
        "state"] == "TERMINATED"
    assert await agreements.active_agreement("provider", on=renewal["starts_on"],
                                             organisation=world.organisation_id) is None
    FrozenClock(monkeypatch, exit_on + timedelta(days=1))
    after_exit = visit(world, started_at=at(15, 9).replace(year=2027, month=3),
                       ended_at=at(15, 9, 45).replace(year=2027, month=3),
                       confirmation_code="", signature_png=signature_png("family"))
    with pytest.raises(NotFound) as refused:  # no longer its client: the new plan's
        await log(world.nurse, after_exit)
    assert refused.value.code == "beneficiary_not_found"
    assert clock.today() == date(2027, 3, 16)
    assert await service.open_exit_count(clerk) == 0


async def test_the_ban_form_tells_every_problem_and_keeps_what_was_typed(client, world) -> None:
    assert (await sign_in(client, "clerk")).status_code == 302
    token = await csrf_token(client, "/sanctions/bans")
    refused = await client.post("/sanctions/bans", data={
        "_csrf_token": token, "resident_id": "123", "name": "王某某", "category": "fraud",
        "reason": "骗取基金", "legal_basis": "21号文", "starts_on": "2026-12-01",
        "ends_on": ""})
    assert refused.status_code == 422
    assert 'value="王某某"' in refused.text and refused.text.count('class="field-error"') >= 2
    assert await Ban.count() == 0
    done = await client.post("/sanctions/bans", data={
        "_csrf_token": token, "resident_id": BANNED_ID, "name": "王某某", "category": "fraud",
        "reason": "骗取基金", "legal_basis": "21号文", "starts_on": "2026-12-01",
        "ends_on": "2029-11-30"}, follow_redirects=False)
    assert done.status_code in (302, 303) and await Ban.count() == 1


async def test_a_clerk_works_an_exit_through_the_pages(client, world) -> None:
    town = await _town(world)
    nearby = await _second_provider(world, "nurse2", "T-P2", town)
    assert (await sign_in(client, "clerk")).status_code == 302
    token = await csrf_token(client, "/sanctions/exits")
    early = await client.post("/sanctions/exits", data={
        "_csrf_token": token, "organisation": str(world.organisation_id),
        "exit_on": "2027-03-14", "reason": "转型"})
    assert early.status_code == 422 and "最早为 2027-03-15" in early.text
    made = await client.post("/sanctions/exits", data={
        "_csrf_token": token, "organisation": str(world.organisation_id),
        "exit_on": "2027-03-15", "reason": "转型"}, follow_redirects=False)
    assert made.status_code in (302, 303)
    page = await client.get(made.headers["location"])
    assert "服务对象交接清单" in page.text and "张秀英" in page.text
    exit_id = int(made.headers["location"].rsplit("/", 1)[1])
    home = await client.get("/")  # the clerk's queue links the worklist
    assert "办理中的机构退出" in home.text
    assert f'href="/sanctions/exits/{exit_id}"' in home.text
    done = await client.post(f"/sanctions/exits/{exit_id}/complete",
                             data={"_csrf_token": token, "version": "1"})
    assert done.status_code == 409 and "未完成交接" in done.text
    item = await HandoverItem.select().where(HandoverItem.provider_exit == exit_id).first()
    handed = await client.post(f"/sanctions/exits/{exit_id}/items/{item['id']}", data={
        "_csrf_token": token, "version": "1", "provider": str(nearby)})
    assert handed.status_code == 200 and "已交接给" in handed.text
    completed = await client.post(f"/sanctions/exits/{exit_id}/complete", data={
        "_csrf_token": token, "version": "1"})
    assert completed.status_code == 200 and "机构退出已完成" in completed.text
    home = await client.get("/")
    assert f'href="/sanctions/exits/{exit_id}"' not in home.text  # nothing left in hand


async def test_nothing_is_paid_to_an_exited_provider_after_the_exit_day(world,
                                                                       monkeypatch) -> None:
    from support.payout_cases import add_visit, computed, lines_of

    from ltc.payouts.queries import treated_visits
    from ltc.payouts.rules import EXCLUSIONS

    clerk = world.staff.clerk
    nearby = await _second_provider(world, "nurse2", "T-P2", await _town(world))
    row = await service.give_notice(clerk, {"organisation": str(world.organisation_id),
                                            "exit_on": "2027-03-15", "reason": "转型"})
    item = (await service.get_exit(clerk, row["id"]))["items"][0]
    await service.hand_over(clerk, item["id"], item["version"], nearby)
    await service.complete_exit(clerk, row["id"], row["version"])
    # The exiting provider's visits of March, as rows (the app refuses the second one; a
    # record that reached the database anyway is still not paid).
    await add_visit(world, date(2027, 3, 10))
    await add_visit(world, date(2027, 3, 20))
    batch = await computed(monkeypatch, date(2027, 3, 1), clerk)
    line = (await lines_of(batch["id"]))["home_visit"]
    assert line["organisation"] == world.organisation_id
    treated = (await treated_visits([line]))[line["id"]]
    assert [(t["on"].day, t["counted"], t["reason"]) for t in treated] == [
        (10, True, ""), (20, False, EXCLUSIONS["no_provider_agreement"])]


async def test_the_sanction_form_from_a_staff_page(client, world) -> None:
    member = await StaffMember.select(StaffMember.id).where(
        StaffMember.user == world.nurse.id).first()
    assert (await sign_in(client, "clerk")).status_code == 302
    staff_page = await client.get(f"/staff/{member['id']}")
    assert f"/sanctions/new?target=staff&amp;party={member['id']}" in staff_page.text
    form = await client.get(f"/sanctions/new?target=staff&party={member['id']}")
    assert f'name="staff_party" type="text" value="{member["id"]}"' in form.text
    token = client.cookies.get("ltc_csrf")
    fields = {"_csrf_token": token, "target": "staff", "staff_party": str(member["id"]),
              "measure": "suspend", "category": "", "reason": "", "legal_basis": "",
              "starts_on": "2026-12-16", "ends_on": "2026-12-01"}
    refused = await client.post("/sanctions/new", data=fields)
    assert refused.status_code == 422
    for message in ("请选择处理事由类别", "请填写具体事由", "结束日期不能早于开始日期"):
        assert message in refused.text
    assert f'value="{member["id"]}"' in refused.text  # what was typed stays
    done = await client.post("/sanctions/new", follow_redirects=False, data={
        **fields, "category": "quality", "reason": "未按计划上门", "legal_basis": "协议第十二条",
        "ends_on": "2027-01-15"})
    assert done.status_code in (302, 303)
    listed = await client.get("/sanctions?target=staff&state=")
    assert "暂停服务资格" in listed.text and "2026-12-16 至 2027-01-15" in listed.text
