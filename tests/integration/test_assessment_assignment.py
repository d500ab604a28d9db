"""Drawing two assessors for an accepted application: who may be drawn, agreements covering the
day, workload balance, exclusions, and what assessors then see."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from conftest import make_user, sign_in
from support.application_cases import (
    LI,
    SHAN,
    ZHANG,
    actor,
    listed,
    snapshot,
    submitted,
    world_fixture,  # noqa: F401  (the fixture, by name)
)

from ltc import clock
from ltc.accounts.tables import User
from ltc.agreements.rules import covers
from ltc.agreements.service import active_agreement
from ltc.agreements.tables import Agreement
from ltc.applications import service as apps
from ltc.assessments import assignment
from ltc.assessments.draw import replay
from ltc.assessments.tables import Assessment
from ltc.errors import Conflict, NotFound
from ltc.organisations.tables import Organisation
from ltc.people import service as people
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio


async def _accepted(w, resident_id=ZHANG):
    application = await submitted(w, resident_id)
    return await apps.accept_application(w.clerk, application["id"], 2)


async def test_not_enough_assessors_changes_nothing(world) -> None:
    application = await _accepted(world)
    await User.update({User.active: False}).where(User.id.is_in(
        [a.id for a in world.assessors[1:]]))
    before = await snapshot(application["id"])
    with pytest.raises(Conflict) as caught:
        await assignment.assign_assessors(world.clerk, application["id"], 3)
    assert caught.value.code == "not_enough_assessors"
    assert "只有1名，至少需要2名" in caught.value.message
    assert await snapshot(application["id"]) == before

    # Excluding the previous assessors can leave too few as well.
    await User.update({User.active: True}).where(User.role == "assessor")
    with pytest.raises(Conflict, match="not_enough_assessors"):
        await assignment.assign_assessors(world.clerk, application["id"], 3,
                                          exclude=[world.assessors[0].id, world.assessors[1].id])
    assert await snapshot(application["id"]) == before


async def test_who_may_be_drawn(world) -> None:
    w = world
    # Not eligible: a provider organisation's staff, an inactive organisation's assessor,
    # an organisation serving another region, an inactive assessor.
    await make_user("provider", username="p1", region="370983001")
    await make_user("assessor", username="closed_org", organisation="AO-370983-03")
    await Organisation.update({Organisation.active: False}).where(
        Organisation.code == "AO-370983-03")
    town_org_user = await make_user("assessor", username="other_town", organisation="T-A")
    lc = await Region.select(Region.id).where(Region.code == "370983002").first()
    await Organisation.update({Organisation.region: lc["id"]}).where(Organisation.code == "T-A")
    gone = await make_user("assessor", username="gone", organisation="AO-370983-02")
    await User.update({User.active: False}).where(User.id == gone["id"])

    candidates = await assignment.eligible_assessors("370983/370983001/370983001001",
                                                     on=clock.today())
    assert [c.user_id for c in candidates] == [a.id for a in w.assessors]
    # The 老城 organisation's assessor is eligible for a 老城 person.
    lc_candidates = await assignment.eligible_assessors("370983/370983002/370983002001",
                                                        on=clock.today())
    assert town_org_user["id"] in [c.user_id for c in lc_candidates]


D = date(2026, 11, 20)  # the day of the draw in the agreement table below
DAY = timedelta(days=1)
# An assessor's organisation with one assessment agreement (state, starts_on, ends_on,
# state_changed_on), or none; and whether it covers D, so that its assessor may be drawn.
COVER_CASES = {
    "none": (None, False),
    "draft": (("DRAFT", D - 30 * DAY, D + 30 * DAY, None), False),
    "active": (("ACTIVE", D - 30 * DAY, D + 30 * DAY, None), True),
    "active, first day": (("ACTIVE", D, D + 30 * DAY, None), True),
    "active, last day": (("ACTIVE", D - 30 * DAY, D, None), True),
    "active, not yet started": (("ACTIVE", D + DAY, D + 30 * DAY, None), False),
    "active, ended yesterday (not yet expired by the daily pass)":
        (("ACTIVE", D - 30 * DAY, D - DAY, None), False),
    "resumed after a suspension": (("ACTIVE", D - 30 * DAY, D + 30 * DAY, D - 5 * DAY), True),
    "expired before the day": (("EXPIRED", D - 30 * DAY, D - DAY, D), False),
    "expired since, covering the day": (("EXPIRED", D - 30 * DAY, D, D + DAY), True),
    "terminated before the day": (("TERMINATED", D - 30 * DAY, D + 30 * DAY, D - 3 * DAY),
                                  False),
    "terminated from the day": (("TERMINATED", D - 30 * DAY, D + 30 * DAY, D), False),
    "terminated from the next day": (("TERMINATED", D - 30 * DAY, D + 30 * DAY, D + DAY),
                                     True),
    "suspended from the day": (("SUSPENDED", D - 30 * DAY, D + 30 * DAY, D), False),
    "suspended from the next day": (("SUSPENDED", D - 30 * DAY, D + 30 * DAY, D + DAY), True),
    "another kind (provider)": (("ACTIVE", D - 30 * DAY, D + 30 * DAY, None), False),
}


async def test_only_assessors_whose_organisation_has_an_agreement_covering_the_day(
        world) -> None:
    expected, agreements = set(), {}
    for n, (name, (agreement, covered)) in enumerate(COVER_CASES.items()):
        code = f"T-C{n}"
        user = await make_user("assessor", username=f"cover{n}", organisation=code,
                               agreement=False)
        if agreement is not None:
            state, starts_on, ends_on, changed_on = agreement
            organisation = await Organisation.select(Organisation.id).where(
                Organisation.code == code).first()
            kind = "provider" if "provider" in name else "assessment"
            row = Agreement(number=f"XYT{n:04d}", kind=kind, region_path="370983",
                            organisation=organisation["id"], starts_on=starts_on,
                            ends_on=ends_on, state=state, state_changed_on=changed_on)
            await row.save()
            agreements[name] = (await Agreement.select().where(Agreement.id == row.id).first())
        if covered:
            expected.add(user["id"])
    # The table agrees with the pure rule the query stands for.
    for name, row in agreements.items():
        assert (row["kind"] == "assessment" and covers(row, D)) == COVER_CASES[name][1], name

    candidates = await assignment.eligible_assessors("370983/370983001/370983001001", on=D)
    ids = {c.user_id for c in candidates}
    assert ids == {a.id for a in world.assessors} | expected
    # The same answer, one organisation at a time, from the agreements context.
    for user_id in ids - {a.id for a in world.assessors}:
        organisation = (await User.select(User.organisation).where(
            User.id == user_id).first())["organisation"]
        assert await active_agreement("assessment", on=D, organisation=organisation)


async def test_a_draw_without_enough_agreements_is_refused_and_says_so(world) -> None:
    application = await _accepted(world)
    today = clock.today()
    # 中医医院's agreement was terminated yesterday: its assessor is never drawn.
    await Agreement.update({Agreement.state: "TERMINATED",
                            Agreement.state_changed_on: today - DAY}).where(
        Agreement.organisation.code == "AO-370983-02")
    for seed in ("a", "b", "c", "d"):
        pair, record = await assignment.draw_assessors(application["region_path"], on=today,
                                                       seed=seed)
        assert set(pair) == {a.id for a in world.assessors[:2]}
        assert record["agreements_on"] == today.isoformat()
        assert [c["organisation"] for c in record["candidates"]] == ["肥城市人民医院"] * 2

    # 人民医院's agreement expired yesterday: nobody is left, and the clerk is told why.
    await Agreement.update({Agreement.state: "EXPIRED", Agreement.ends_on: today - DAY,
                            Agreement.state_changed_on: today}).where(
        Agreement.organisation.code == "AO-370983-01")
    before = await snapshot(application["id"])
    with pytest.raises(Conflict) as caught:
        await assignment.assign_assessors(world.clerk, application["id"], 3)
    assert caught.value.code == "not_enough_assessors"
    message = caught.value.message
    assert "只有0名，至少需要2名" in message
    assert (f"另有3名评估员因所在评估机构（肥城市人民医院、肥城市中医医院）在{today.isoformat()}"
            "没有生效的评估协议而不能抽取") in message
    assert "请先在协议管理中与该机构签订、续签或恢复评估协议" in message
    assert await snapshot(application["id"]) == before


async def test_the_clerk_assigning_on_the_case_page_is_refused_without_agreements(
        world, client) -> None:
    application = await _accepted(world)
    await Agreement.update({Agreement.state: "SUSPENDED",
                            Agreement.state_changed_on: clock.today()}).where(
        Agreement.kind == "assessment")
    await sign_in(client, "city_clerk")
    before = await snapshot(application["id"])
    page = await client.post(f"/applications/{application['id']}", data={
        "action": "assign", "version": "3", "_csrf_token": client.cookies.get("ltc_csrf")})
    assert page.status_code == 409
    assert "没有生效的评估协议而不能抽取" in page.text and "肥城市人民医院" in page.text
    api = await client.post(f"/api/v1/applications/{application['id']}/assign",
                            json={"version": 3},
                            headers={"x-csrftoken": client.cookies.get("ltc_csrf")})
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "not_enough_assessors"
    assert "评估协议" in api.json()["error"]["message"]
    assert await snapshot(application["id"]) == before


async def test_the_draw_balances_open_workload_and_excludes(world) -> None:
    w = world
    first = await _accepted(w, ZHANG)
    assessment = await assignment.assign_assessors(w.clerk, first["id"], 3)
    busy = {assessment["assessor_1"], assessment["assessor_2"]}
    idle = ({a.id for a in w.assessors} - busy).pop()

    second = await _accepted(w, SHAN)
    assessment2 = await assignment.assign_assessors(w.clerk, second["id"], 3)
    pair2 = (assessment2["assessor_1"], assessment2["assessor_2"])
    assert pair2[0] == idle  # the only one with no open assessment is drawn first
    workloads = {c["user_id"]: c["workload"] for c in json.loads(assessment2["draw"])[
        "candidates"]}
    assert workloads == {a.id: (0 if a.id == idle else 1) for a in w.assessors}
    assert replay(assessment2["draw"]) == pair2

    # A concluded assessment is no longer open work.
    await Assessment.update({Assessment.state: "CONCLUDED"}).where(
        Assessment.id == assessment["id"])
    load = {c.user_id: c.workload for c in await assignment.eligible_assessors(
        first["region_path"], on=clock.today())}
    assert load == {a.id: int(a.id in pair2) for a in w.assessors}

    # Excluding two of three leaves one: too few. Adding a fourth makes it work.
    extra = await actor("assessor", "assessor3", organisation="AO-370983-02")
    third = await _accepted(w, LI)
    excluded = [w.assessors[0].id, w.assessors[1].id]
    assessment3 = await assignment.assign_assessors(w.clerk, third["id"], 3, exclude=excluded)
    assert {assessment3["assessor_1"], assessment3["assessor_2"]} == {
        w.assessors[2].id, extra.id}
    assert json.loads(assessment3["draw"])["exclude"] == sorted(excluded)


async def test_assessors_see_only_applications_assigned_to_them(world) -> None:
    application = await _accepted(world)
    assessment = await assignment.assign_assessors(world.clerk, application["id"], 3)
    chosen = {assessment["assessor_1"], assessment["assessor_2"]}
    for assessor in world.assessors:
        visible = await listed(assessor)
        assert [a["id"] for a in visible] == ([application["id"]] if assessor.id in chosen
                                               else [])
        person = world.people[ZHANG]
        if assessor.id in chosen:
            assert (await people.get_person(assessor, person))["name"] == "张三"
        else:
            with pytest.raises(NotFound):
                await people.get_person(assessor, person)
