"""Care catalogue and care plans (SPEC §5, issue 5): the catalogue and the policy's package at
load time; plans proposed by a provider and confirmed by a clerk, or made by a clerk; versions
and the version in force on a day; every refusal with its field and nothing written; roles,
stale versions and scoping; the pages."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date
from itertools import count
from typing import Any

import pytest
from conftest import make_user, sign_in
from support.cases import FrozenClock, Staff, entitled_case, make_staff, user_actor

from ltc import db, reference
from ltc.agreements.tables import Agreement
from ltc.audit.tables import AuditEvent
from ltc.careplans import service
from ltc.careplans.reference import load_care_items
from ltc.careplans.tables import CareItem, CarePlan
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import Actor
from ltc.organisations.tables import Organisation
from ltc.policy import service as policies
from ltc.policy.tables import PolicyVersion

pytestmark = pytest.mark.anyio

CONCLUDED_ON = date(2026, 11, 20)
DECIDED_ON = date(2026, 11, 28)
STARTS_ON = date(2026, 12, 1)  # the entitlement's first day
REQUIRED = ["B01", "B04", "B08", "B09", "B10", "B11", "B14", "B17", "B20", "B21"]
_numbers = count(1)


@dataclass
class World:
    clock: FrozenClock
    staff: Staff
    clerk: Actor
    provider: Actor  # of 测试机构T-P, with a home-visit agreement
    provider_org: int
    other: Actor  # of 测试机构T-P2, with an agreement of its own
    other_org: int
    person_id: int
    entitlement_id: int


async def agreement(kind: str, *, organisation: int | None = None, staff: int | None = None,
                    beneficiary: int | None = None, starts_on: date = date(2026, 1, 1),
                    ends_on: date = date(2027, 12, 31), state: str = "ACTIVE",
                    **values: Any) -> int:
    """An agreement row as the agreements context leaves it once activated."""
    row = Agreement(number=f"XYT{next(_numbers):06d}", kind=kind, region_path="370983",
                    organisation=organisation, staff=staff, beneficiary=beneficiary,
                    starts_on=starts_on, ends_on=ends_on, state=state, **values)
    await row.save()
    return row.id


async def organisation_id(code: str) -> int:
    return (await Organisation.select(Organisation.id).where(
        Organisation.code == code).first())["id"]


async def add_nurse(organisation: int, username: str = "nurse1") -> int:
    user = await make_user("provider", username=username,
                           organisation=(await Organisation.select(Organisation.code).where(
                               Organisation.id == organisation).first())["code"])
    return await agreement("staff", organisation=organisation, staff=user["id"],
                           qualification="nurse")


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    """张秀英, grade 5, entitled from 1 December 2026; two providers under agreement (home
    visits, no beds, no nurse yet); today is 1 December 2026."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=DECIDED_ON, name="张秀英")
    clock.set(STARTS_ON)
    provider = await user_actor((await make_user("provider", username="provider"))["id"])
    other = await user_actor((await make_user("provider", username="provider2",
                                              organisation="T-P2"))["id"])
    provider_org, other_org = await organisation_id("T-P"), await organisation_id("T-P2")
    for org in (provider_org, other_org):
        await agreement("provider", organisation=org, home_visits=True)
    return World(clock, staff, staff.clerk, provider, provider_org, other, other_org,
                 case.person_id, entitlement_id)


async def propose(w: World, actor: Actor | None = None, **changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"care_form": "home", "provider_id": w.provider_org,
                            "family_caregiver_agreement_id": None,
                            "items": [*REQUIRED, "B02"], "starts_on": STARTS_ON,
                            "note": "每周上门一次"}
    args.update(changes)
    return await service.propose_plan(actor or w.provider, w.entitlement_id, **args)


async def written() -> tuple[int, int]:
    return await CarePlan.count(), await AuditEvent.count()


async def refused(w: World, actor: Actor | None = None, **changes: Any) -> dict[str, str]:
    before = await written()
    with pytest.raises(InvalidInput) as caught:
        await propose(w, actor, **changes)
    assert await written() == before  # nothing written
    return caught.value.fields


# --- the catalogue and the package ----------------------------------------------------------

async def test_the_catalogue_loads_42_items_idempotently(database_url) -> None:
    items = await service.catalogue()
    assert len(items) == 42 and list(items) == sorted(items)
    assert sum(not i["nurse_only"] and i["category"] == "basic_life" for i in items.values()) == 27
    assert sum(i["nurse_only"] and i["category"] == "clinical" for i in items.values()) == 15
    packages = [i["in_package"] for i in items.values()]
    assert (packages.count("required"), packages.count("optional"),
            packages.count("excluded")) == (10, 25, 7)
    assert items["B08"]["name_zh"] == "口腔清洁" and items["C15"]["name_zh"] == "PICC维护"
    ids = {code: row["id"] for code, row in items.items()}
    await CareItem.update({CareItem.name_zh: "改过"}).where(CareItem.code == "B08")
    assert await load_care_items() == 42
    again = await service.catalogue()
    assert {code: row["id"] for code, row in again.items()} == ids  # upserted, not re-added
    assert again["B08"]["name_zh"] == "口腔清洁"
    await reference.load_reference_data()  # every deploy runs it
    assert await CareItem.count() == 42


async def test_the_policy_package_is_the_catalogue_default(database_url) -> None:
    policy = (await policies.policy_in_force("370983", STARTS_ON)).policy
    items = await service.catalogue()
    assert list(policy.care_required) == REQUIRED == [
        c for c, i in items.items() if i["in_package"] == "required"]
    assert list(policy.care_optional) == [c for c, i in items.items()
                                          if i["in_package"] == "optional"]
    assert await policies.unknown_care_items(policy) == {}


async def test_a_package_code_not_in_the_catalogue_is_refused_at_load(
        database_url, tmp_path, monkeypatch) -> None:
    data = json.loads((policies.FIXTURES / "feicheng.json").read_text(encoding="utf-8"))
    data["effective_from"] = "2030-01-01"
    data["definition"]["care_optional"] = [*data["definition"]["care_optional"], "B99", "D01"]
    (tmp_path / "next.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(policies, "FIXTURES", tmp_path)
    with pytest.raises(RuntimeError) as refused_:
        await reference.load_reference_data()
    assert "next.json" in str(refused_.value) and "B99、D01" in str(refused_.value)
    assert "care_optional" in str(refused_.value)
    assert await PolicyVersion.count() == 1  # the version was not loaded


# --- proposing, confirming, versions -----------------------------------------------------------

async def test_provider_proposes_clerk_confirms_and_a_new_version_supersedes(world) -> None:
    w = world
    assert await service.plans_of(w.clerk, w.entitlement_id) == []  # no plan yet
    first = await propose(w)
    assert (first["state"], first["plan_no"], first["visits_per_month"]) == ("PROPOSED", 1, 4)
    assert first["items"] == sorted([*REQUIRED, "B02"]) and first["confirmed_by"] is None
    assert await service.plan_on(w.entitlement_id, STARTS_ON) is None  # not yet confirmed
    assert await service.waiting_for_clerk(w.clerk) == 1
    confirmed = await service.confirm_plan(w.clerk, first["id"], first["version"])
    assert confirmed["state"] == "ACTIVE" and confirmed["confirmed_by"] == w.clerk.id
    assert await service.waiting_for_clerk(w.clerk) == 0

    # A change from 1 March 2027, made by the clerk: ACTIVE at once, the first superseded.
    w.clock.set(date(2027, 2, 20))
    second = await propose(w, w.clerk, items=[*REQUIRED, "B05", "B06"],
                           starts_on=date(2027, 3, 1), note="")
    assert (second["state"], second["plan_no"], second["confirmed_by"]) == (
        "ACTIVE", 2, w.clerk.id)
    history = await service.plans_of(w.clerk, w.entitlement_id)
    assert [(v["plan_no"], v["state"], v["ends_on"]) for v in history] == [
        (1, "SUPERSEDED", date(2027, 2, 28)), (2, "ACTIVE", None)]
    assert [v["in_force_today"] for v in history] == [True, False]

    on_feb = await service.plan_on(w.entitlement_id, date(2027, 2, 28))
    on_mar = await service.plan_on(w.entitlement_id, date(2027, 3, 1))
    assert (on_feb["id"], on_feb["ends_on"], on_feb["items"]) == (
        first["id"], date(2027, 2, 28), sorted([*REQUIRED, "B02"]))
    assert (on_mar["id"], on_mar["ends_on"]) == (second["id"], None)
    assert on_mar["required"] == REQUIRED and len(on_mar["optional"]) == 25
    assert on_mar["visits_per_month"] == 4 and on_mar["provider"] == w.provider_org

    actions = [r["action"] for r in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.object_type == "care_plan").order_by(AuditEvent.seq)]
    assert actions == ["care_plan.proposed", "care_plan.confirmed", "care_plan.created",
                       "care_plan.superseded"]


async def test_a_rejected_proposal_is_never_in_force_and_may_be_proposed_again(world) -> None:
    w = world
    first = await propose(w)
    with pytest.raises(InvalidInput) as caught:
        await service.reject_plan(w.clerk, first["id"], first["version"], " ")
    assert list(caught.value.fields) == ["reason"]
    reason = "洗发改为每月两次，请调整"
    rejected = await service.reject_plan(w.clerk, first["id"], first["version"], reason)
    assert rejected["state"] == "REJECTED"
    assert (await service.get_plan(w.provider, first["id"]))["rejection"] == reason
    with pytest.raises(Conflict, match="已退回"):
        await service.confirm_plan(w.clerk, first["id"], rejected["version"])
    again = await propose(w)
    assert again["plan_no"] == 2
    await service.confirm_plan(w.clerk, again["id"], again["version"])
    assert (await service.plan_on(w.entitlement_id, STARTS_ON))["id"] == again["id"]


async def test_one_pending_proposal_at_a_time(world) -> None:
    w = world
    await propose(w)
    with pytest.raises(Conflict, match="待确认"):
        await propose(w, w.clerk, starts_on=date(2026, 12, 2))


async def test_concurrent_proposals_make_one_version(world) -> None:
    w = world
    results = await asyncio.gather(propose(w), propose(w), return_exceptions=True)
    made = [r for r in results if isinstance(r, dict)]
    refused_ = [r for r in results if isinstance(r, Conflict)]
    assert len(made) == 1 and len(refused_) == 1, results
    assert made[0]["plan_no"] == 1 and await CarePlan.count() == 1


async def test_family_care_and_institutional_care(world) -> None:
    w = world
    caregiver = await agreement("caregiver", beneficiary=w.person_id, caregiver_name="李明",
                                relationship="子女")
    family_only = await propose(w, w.clerk, provider_id=None,
                                family_caregiver_agreement_id=caregiver)
    assert (family_only["visits_per_month"], family_only["family_caregiver"]) == (0, caregiver)
    # Institutional care needs contracted beds.
    fields = await refused(w, w.clerk, care_form="institution", starts_on=date(2027, 1, 1))
    assert fields == {"provider": "该机构的协议不含机构护理床位，请选择有床位协议的机构"}
    await agreement("provider", organisation=w.other_org, institutional_beds=20,
                    starts_on=date(2027, 1, 1))
    stay = await propose(w, w.clerk, care_form="institution", provider_id=w.other_org,
                         starts_on=date(2027, 1, 1))
    assert (stay["state"], stay["visits_per_month"]) == ("ACTIVE", 0)


# --- refusals: each with its field, nothing written ---------------------------------------------

async def test_a_missing_required_item_is_refused(world) -> None:
    fields = await refused(world, items=[c for c in REQUIRED if c != "B08"])
    assert fields == {"items.B08": "口腔清洁（B08）是必选项目，每份护理计划都必须包含，请勾选"}


async def test_an_item_outside_the_package_is_refused(world) -> None:
    fields = await refused(world, items=[*REQUIRED, "C09"])
    assert fields == {"items.C09": "灌肠（C09）不在本地区的护理服务包内（必选或可选项目），请删去"}


async def test_a_nurse_only_item_needs_a_nurse_on_the_providers_staff(world) -> None:
    w = world
    fields = await refused(w, items=[*REQUIRED, "C06"])
    assert list(fields) == ["items.C06"] and "须由护士提供" in fields["items.C06"]
    # A nurse of another provider does not count; a care worker of this one does not either.
    await add_nurse(w.other_org, "nurse_other")
    care_worker = await make_user("provider", username="worker1")
    await agreement("staff", organisation=w.provider_org, staff=care_worker["id"],
                    qualification="care_worker")
    assert list(await refused(w, items=[*REQUIRED, "C06"])) == ["items.C06"]
    await add_nurse(w.provider_org)
    assert (await propose(w, items=[*REQUIRED, "C06"]))["items"][-1] == "C06"


async def test_a_provider_without_an_agreement_on_the_start_day_is_refused(world) -> None:
    w = world
    third = await make_user("provider", username="provider3", organisation="T-P3")
    third_org = await organisation_id("T-P3")
    fields = await refused(w, w.clerk, provider_id=third_org)
    assert fields == {"provider": "该机构在 2026-12-01 没有生效的护理服务协议，不能安排护理；"
                                  "请选择其他机构或先签订协议"}
    # An agreement from next year does not cover the start day either; a draft never does.
    await agreement("provider", organisation=third_org, home_visits=True,
                    starts_on=date(2027, 1, 1))
    await agreement("provider", organisation=third_org, home_visits=True, state="DRAFT")
    assert list(await refused(w, await user_actor(third["id"]))) == ["provider"]


async def test_every_problem_at_once(world) -> None:
    w = world
    caregiver = await agreement("caregiver", beneficiary=w.person_id, starts_on=date(2027, 6, 1))
    fields = await refused(w, w.clerk, items=["B01", "C09", "C06"],
                           starts_on=date(2026, 11, 15), family_caregiver_agreement_id=caregiver,
                           note="字" * 1001)
    assert set(fields) == {"note", "starts_on", "family_caregiver", "items.C06", "items.C09",
                           *(f"items.{c}" for c in REQUIRED if c != "B01")}
    assert fields["starts_on"] == "开始日期不能早于待遇开始日期 2026-12-01"


async def test_a_new_version_starts_after_the_current_one(world) -> None:
    w = world
    await propose(w, w.clerk, starts_on=date(2027, 1, 1))
    fields = await refused(w, w.clerk, starts_on=date(2027, 1, 1))
    assert list(fields) == ["starts_on"] and "2027-01-01" in fields["starts_on"]


# --- roles, stale versions, scoping ------------------------------------------------------------

async def test_wrong_roles_are_forbidden(world) -> None:
    w = world
    with pytest.raises(Forbidden):
        await propose(w, w.staff.reviewer)
    with pytest.raises(Forbidden):
        await propose(w, w.staff.assessors[0])
    plan = await propose(w)
    with pytest.raises(Forbidden):
        await service.confirm_plan(w.provider, plan["id"], plan["version"])
    with pytest.raises(Forbidden):
        await service.reject_plan(w.provider, plan["id"], plan["version"], "自己退回")
    with pytest.raises(Forbidden):
        await service.get_plan(w.staff.reviewer, plan["id"])
    assert (await CarePlan.select(CarePlan.state).first())["state"] == "PROPOSED"


async def test_a_stale_version_is_refused(world) -> None:
    w = world
    plan = await propose(w)
    with pytest.raises(db.StaleWrite):
        await service.confirm_plan(w.clerk, plan["id"], plan["version"] + 1)
    with pytest.raises(db.StaleWrite):
        await service.reject_plan(w.clerk, plan["id"], plan["version"] - 1, "理由充分的退回")
    assert (await CarePlan.select(CarePlan.state).first())["state"] == "PROPOSED"


async def test_confirming_checks_again_as_of_now(world) -> None:
    w = world
    plan = await propose(w)
    await Agreement.update({Agreement.state: "TERMINATED",
                            Agreement.state_changed_on: date(2026, 11, 30)}).where(
        Agreement.organisation == w.provider_org)
    with pytest.raises(InvalidInput) as caught:
        await service.confirm_plan(w.clerk, plan["id"], plan["version"])
    assert list(caught.value.fields) == ["provider"] and "请退回机构修改" in caught.value.message
    assert (await CarePlan.select(CarePlan.state).first())["state"] == "PROPOSED"


async def test_providers_see_only_their_own_plans(world) -> None:
    w = world
    mine = await propose(w)
    with pytest.raises(NotFound):
        await service.get_plan(w.other, mine["id"])
    with pytest.raises(NotFound):
        await service.plans_of(w.other, w.entitlement_id)
    with pytest.raises(NotFound):  # nor propose for another provider's beneficiary
        await propose(w, w.other, provider_id=w.other_org, starts_on=date(2027, 1, 1))
    with pytest.raises(NotFound):
        await service.form_context(w.other, w.entitlement_id)
    assert await service.list_plans(w.other) == []
    assert [p["id"] for p in await service.list_plans(w.provider)] == [mine["id"]]
    # A provider proposes only for its own organisation.
    await service.reject_plan(w.clerk, mine["id"], mine["version"], "请改由本机构重新提出")
    assert await refused(w, provider_id=w.other_org) == {
        "provider": "护理机构只能为本机构提出护理计划"}


async def test_clerks_see_only_their_region(world) -> None:
    w = world
    plan = await propose(w)
    town_clerk = await user_actor((await make_user("clerk", username="laocheng",
                                                   region="370983002"))["id"])
    with pytest.raises(NotFound):
        await service.get_plan(town_clerk, plan["id"])
    with pytest.raises(NotFound):
        await service.confirm_plan(town_clerk, plan["id"], plan["version"])
    assert await service.list_plans(town_clerk) == []
    assert [p["id"] for p in await service.list_plans(w.clerk, state="PROPOSED")] == [plan["id"]]
    for term in ("秀英", "zxy", "370983"):
        assert [p["id"] for p in await service.list_plans(w.clerk, search=term)] == [plan["id"]]
    assert await service.list_plans(w.clerk, search="王") == []


# --- pages -----------------------------------------------------------------------------------

async def test_clerk_makes_a_plan_through_the_form(client, world) -> None:
    w = world
    await sign_in(client, "clerk")
    csrf = client.cookies.get("ltc_csrf")
    form = await client.get(f"/care-plans/new?entitlement={w.entitlement_id}")
    assert form.status_code == 200
    for text in ("张秀英", "口腔清洁", "吸氧", "须护士", "测试机构T-P", "保存并生效"):
        assert text in form.text, text
    assert "灌肠" not in form.text  # not in the package
    posted = {"_csrf_token": csrf, "entitlement": str(w.entitlement_id), "care_form": "home",
              "provider": str(w.provider_org), "family_caregiver": "",
              "starts_on": "2026-12-01", "note": ""}
    bad = await client.post("/care-plans", data={**posted, "items": ["B01", "C06", "C09"]})
    assert bad.status_code == 422
    for problem in ("口腔清洁（B08）是必选项目", "吸氧（C06）须由护士提供",
                    "灌肠（C09）不在本地区"):
        assert problem in bad.text, problem
    assert 'id="items.C06-error"' in bad.text  # next to its checkbox
    assert await CarePlan.count() == 0
    good = await client.post("/care-plans", data={**posted, "items": [*REQUIRED, "B02"]},
                             follow_redirects=False)
    assert good.status_code in (302, 303)
    plan = await CarePlan.select().first()
    assert good.headers["location"] == f"/care-plans/{plan['id']}"
    assert plan["state"] == "ACTIVE" and json.loads(plan["items"]) == sorted([*REQUIRED, "B02"])
    page = await client.get(good.headers["location"])
    for text in ("执行中", "洗发", "口腔清洁", "每月上门：4次", "经办员制定护理计划"):
        assert text in page.text, text


async def test_provider_pages_show_only_their_own_plans(client, world) -> None:
    w = world
    mine = await propose(w)
    await sign_in(client, "provider2")
    listing = await client.get("/care-plans")
    assert listing.status_code == 200 and "张秀英" not in listing.text
    assert (await client.get(f"/care-plans/{mine['id']}")).status_code == 404
    assert (await client.get(f"/care-plans/new?entitlement={w.entitlement_id}")).status_code == 404
    client.cookies.clear()
    await sign_in(client, "provider")
    listing = await client.get("/care-plans")
    assert "张秀英" in listing.text and "待确认" in listing.text
    page = await client.get(f"/care-plans/{mine['id']}")
    assert page.status_code == 200 and "确认并生效" not in page.text  # only clerks decide


async def test_clerk_confirms_and_returns_on_the_page(client, world) -> None:
    w = world
    plan = await propose(w)
    await sign_in(client, "clerk")
    csrf = client.cookies.get("ltc_csrf")
    page = await client.get(f"/care-plans/{plan['id']}")
    assert "确认并生效" in page.text and "退回" in page.text
    stale = await client.post(f"/care-plans/{plan['id']}/confirm",
                              data={"_csrf_token": csrf, "version": str(plan["version"] + 1)})
    assert stale.status_code == 409
    done = await client.post(f"/care-plans/{plan['id']}/confirm",
                             data={"_csrf_token": csrf, "version": str(plan["version"])},
                             follow_redirects=False)
    assert done.status_code in (302, 303)
    assert (await CarePlan.select(CarePlan.state).first())["state"] == "ACTIVE"
    again = await client.post(f"/care-plans/{plan['id']}/reject",
                              data={"_csrf_token": csrf, "version": "2", "reason": "晚了"})
    assert again.status_code == 409 and "执行中" in again.text


async def test_other_roles_cannot_open_the_pages(client, world) -> None:
    await sign_in(client, "reviewer")
    assert (await client.get("/care-plans")).status_code == 403
