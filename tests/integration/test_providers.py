"""Institutional stays (admission, discharge, bed-days), return-visit surveys, the provider
evaluation and the provider's home page (issue 5, items 6–8): every refusal with its field
and nothing written, the evaluation's numbers on a small fixture of rows, scoping by role and
region, and the pages."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import (
    FrozenClock,
    Staff,
    entitled_case,
    make_staff,
    user_actor,
)
from support.workbench import badges, queue_counts, queue_links

from ltc import clock as ltc_clock
from ltc.accounts.tables import User
from ltc.agreements.tables import Agreement
from ltc.audit.tables import AuditEvent
from ltc.careplans.tables import CarePlan
from ltc.enrollment.tables import HospitalStay
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import Actor
from ltc.organisations.tables import Organisation
from ltc.providers import service
from ltc.regions.tables import Region
from ltc.visits.tables import InstitutionalStay, Survey, Visit

pytestmark = pytest.mark.anyio

CONCLUDED_ON = date(2026, 10, 20)
DECIDED_ON = date(2026, 10, 28)  # entitled from 1 November 2026
NOVEMBER = date(2026, 11, 1)
REQUIRED = ["B01", "B04", "B08", "B09", "B10", "B11", "B14", "B17", "B20", "B21"]
_numbers = count(1)


@dataclass
class World:
    clock: FrozenClock
    staff: Staff
    clerk: Actor
    person_a: int
    entitlement_a: int
    person_b: int
    entitlement_b: int
    home: int  # 测试机构T-P: home visits, no beds
    institution: int  # 仪阳护理院: 1 contracted bed
    no_beds: int  # 王庄养老院: no agreement at all


async def organisation(code: str, name: str | None = None) -> int:
    row = await Organisation.select(Organisation.id).where(Organisation.code == code).first()
    if row:
        return row["id"]
    region = await Region.select(Region.id).where(Region.code == "370983").first()
    created = Organisation(code=code, name=name or code, kind="provider", region=region["id"])
    await created.save()
    return created.id


async def agreement(organisation_id: int, *, beds: int = 0, home_visits: bool = False,
                    starts_on: date = date(2026, 1, 1), ends_on: date = date(2027, 12, 31),
                    state: str = "ACTIVE") -> int:
    """A provider agreement row as the agreements context leaves it once activated."""
    row = Agreement(number=f"XYP{next(_numbers):06d}", kind="provider", region_path="370983",
                    organisation=organisation_id, home_visits=home_visits,
                    institutional_beds=beds, starts_on=starts_on, ends_on=ends_on, state=state)
    await row.save()
    return row.id


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    """张秀英 (A) and 李桂兰 (B), grade 5, entitled from 1 November 2026; a home-visit
    provider, an institution with one bed, one without an agreement; today 20 November."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    a, entitlement_a = await entitled_case(staff, decided_on=DECIDED_ON, name="张秀英")
    b, entitlement_b = await entitled_case(staff, decided_on=DECIDED_ON, name="李桂兰")
    clock.set(date(2026, 11, 20))
    await make_user("provider", username="provider")  # 测试机构T-P
    home = await organisation("T-P")
    await agreement(home, home_visits=True)
    institution = await organisation("INST-1", "仪阳护理院")
    await agreement(institution, beds=1)
    no_beds = await organisation("INST-2", "王庄养老院")
    return World(clock, staff, staff.clerk, a.person_id, entitlement_a, b.person_id,
                 entitlement_b, home, institution, no_beds)


async def written() -> tuple[int, int, int]:
    return (await InstitutionalStay.count(), await Survey.count(), await AuditEvent.count())


async def refused(call, *args: Any) -> dict[str, str]:
    before = await written()
    with pytest.raises(InvalidInput) as caught:
        await call(*args)
    assert await written() == before  # nothing written
    return caught.value.fields


# --- institutional stays ---------------------------------------------------------------------

async def test_admission_is_refused_with_every_reason_at_once(world: World) -> None:
    w = world
    fields = await refused(service.admit, w.clerk, w.entitlement_a, w.no_beds, date(2026, 11, 5))
    assert set(fields) == {"institution"}
    assert "没有有效的机构护理" in fields["institution"]
    # a home-visit agreement is no bed agreement either
    fields = await refused(service.admit, w.clerk, w.entitlement_a, w.home, date(2026, 11, 5))
    assert "没有有效的机构护理" in fields["institution"]
    # before the entitlement starts, and in the future
    fields = await refused(service.admit, w.clerk, w.entitlement_a, w.institution,
                           date(2026, 10, 31))
    assert "不在享受期内" in fields["admitted_on"]
    fields = await refused(service.admit, w.clerk, w.entitlement_a, w.institution,
                           date(2026, 11, 21))
    assert "不能晚于今天" in fields["admitted_on"]
    fields = await refused(service.admit, w.clerk, w.entitlement_a, None, date(2026, 11, 5))
    assert "请选择" in fields["institution"]

    stay = await service.admit(w.clerk, w.entitlement_a, w.institution, date(2026, 11, 5))
    assert (stay["person"], stay["institution.name"], stay["admitted_on"],
            stay["discharged_on"]) == (w.person_a, "仪阳护理院", date(2026, 11, 5), None)
    # the same person again: an open stay overlaps, and the only bed is taken — both at once
    fields = await refused(service.admit, w.clerk, w.entitlement_a, w.institution,
                           date(2026, 11, 10))
    assert set(fields) == {"entitlement", "institution"}
    assert "2026-11-05" in fields["entitlement"] and "仪阳护理院" in fields["entitlement"]
    assert "协议床位 1 张" in fields["institution"]
    # no bed left for another person
    fields = await refused(service.admit, w.clerk, w.entitlement_b, w.institution,
                           date(2026, 11, 6))
    assert set(fields) == {"institution"}

    # discharge: not on or before the admission day, not in the future
    fields = await refused(service.discharge, w.clerk, stay["id"], date(2026, 11, 5))
    assert "必须晚于入住日期 2026-11-05" in fields["discharged_on"]
    fields = await refused(service.discharge, w.clerk, stay["id"], date(2026, 11, 4))
    assert "必须晚于入住日期" in fields["discharged_on"]
    fields = await refused(service.discharge, w.clerk, stay["id"], date(2026, 11, 21))
    assert "不能晚于今天" in fields["discharged_on"]
    done = await service.discharge(w.clerk, stay["id"], date(2026, 11, 15))
    assert done["discharged_on"] == date(2026, 11, 15)
    with pytest.raises(Conflict):
        await service.discharge(w.clerk, stay["id"], date(2026, 11, 16))

    # the bed is free from the discharge day, not before: backdating into the stay is refused
    fields = await refused(service.admit, w.clerk, w.entitlement_b, w.institution,
                           date(2026, 11, 14))
    assert set(fields) == {"institution"}
    second = await service.admit(w.clerk, w.entitlement_b, w.institution, date(2026, 11, 15))
    # A, discharged, may be admitted elsewhere from the discharge day on (no overlap) —
    # but not before her discharge
    await agreement(w.no_beds, beds=5)
    fields = await refused(service.admit, w.clerk, w.entitlement_a, w.no_beds,
                           date(2026, 11, 14))
    assert set(fields) == {"entitlement"}
    third = await service.admit(w.clerk, w.entitlement_a, w.no_beds, date(2026, 11, 15))

    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.object_type == "institutional_stay").order_by(AuditEvent.seq)]
    assert actions == ["stay.admitted", "stay.discharged", "stay.admitted", "stay.admitted"]
    assert {s["id"] for s in await service.list_stays(w.clerk)} == {second["id"], third["id"]}
    assert len(await service.list_stays(w.clerk, open_only=False, search="张秀英")) == 2
    institutions = {i["name"]: i for i in await service.institutions(w.clerk, ltc_clock.today())}
    assert institutions["仪阳护理院"]["free"] == 0 and institutions["王庄养老院"]["free"] == 4
    assert "测试机构T-P" not in institutions  # home visits only


async def test_bed_days_by_month(world: World) -> None:
    w = world
    w.clock.set(date(2026, 12, 10))
    first = await service.admit(w.clerk, w.entitlement_a, w.institution, date(2026, 11, 5))
    await service.discharge(w.clerk, first["id"], date(2026, 11, 15))
    await agreement(w.no_beds, beds=2)
    await service.admit(w.clerk, w.entitlement_b, w.no_beds, date(2026, 11, 20))
    # B in hospital 25–27 November (back on the 28th): three days not payable
    await HospitalStay(person=w.person_b, admitted_on=date(2026, 11, 25),
                       discharged_on=date(2026, 11, 28)).save()

    report = await service.bed_days_by_month(w.clerk, None, NOVEMBER)
    days = {r["person.name"]: (r["bed_days"], r["active_bed_days"]) for r in report["rows"]}
    assert days == {"张秀英": (10, 10), "李桂兰": (11, 8)}  # 5–14; 20–30 less 25–27
    assert (report["bed_days"], report["active_bed_days"]) == (21, 18)
    assert {t["name"]: t["bed_days"] for t in report["institutions"]} == {
        "仪阳护理院": 10, "王庄养老院": 11}
    only = await service.bed_days_by_month(w.clerk, w.institution, NOVEMBER)
    assert [r["person.name"] for r in only["rows"]] == ["张秀英"]
    december = await service.bed_days_by_month(w.clerk, None, date(2026, 12, 1))
    assert [(r["person.name"], r["bed_days"]) for r in december["rows"]] == [("李桂兰", 31)]
    assert (await service.bed_days_by_month(w.clerk, None, date(2026, 10, 1)))["rows"] == []


async def test_stays_are_scoped_to_clerks_of_the_region(world: World) -> None:
    w = world
    stay = await service.admit(w.clerk, w.entitlement_a, w.institution, date(2026, 11, 5))
    elsewhere = await user_actor((await make_user("clerk", username="clerk_laocheng",
                                                  region="370983002"))["id"])
    with pytest.raises(NotFound):
        await service.get_stay(elsewhere, stay["id"])
    with pytest.raises(NotFound):
        await service.discharge(elsewhere, stay["id"], date(2026, 11, 10))
    with pytest.raises(NotFound):
        await service.admit(elsewhere, w.entitlement_b, w.institution, date(2026, 11, 5))
    assert await service.list_stays(elsewhere) == []
    assert (await service.bed_days_by_month(elsewhere, None, NOVEMBER))["rows"] == []
    # a town's clerk still sees the pooling region's contracted institutions
    assert [i["name"] for i in await service.institutions(elsewhere, ltc_clock.today())] == [
        "仪阳护理院"]
    provider = await actor_named("provider")
    with pytest.raises(Forbidden):
        await service.admit(provider, w.entitlement_b, w.institution, date(2026, 11, 5))
    with pytest.raises(Forbidden):
        await service.list_stays(provider)


async def user_id(username: str) -> int:
    return (await User.select(User.id).where(User.username == username).first())["id"]


async def actor_named(username: str) -> Actor:
    return await user_actor(await user_id(username))


# --- surveys ---------------------------------------------------------------------------------

async def plan(entitlement_id: int, person_id: int, provider: int | None, *, starts_on: date,
               visits: int, state: str = "ACTIVE", plan_no: int = 1,
               care_form: str = "home", proposed_by: int) -> int:
    """A care plan version row as the care plan context leaves it once confirmed."""
    row = CarePlan(entitlement=entitlement_id, person=person_id,
                   region_path="370983/370983001/370983001001", plan_no=plan_no,
                   care_form=care_form, provider=provider, items=json.dumps(REQUIRED),
                   visits_per_month=visits, starts_on=starts_on, state=state,
                   proposed_by=proposed_by, confirmed_by=proposed_by)
    await row.save()
    return row.id


async def test_survey_validation_and_recording(world: World) -> None:
    w = world
    fields = await refused(service.record_survey, w.clerk, w.home, w.person_a,
                           date(2026, 11, 18), 6, "")
    assert set(fields) == {"provider", "score"}  # also: A has no plan with this provider
    assert "1 到 5 分" in fields["score"] and "没有由" in fields["provider"]
    await plan(w.entitlement_a, w.person_a, w.home, starts_on=NOVEMBER, visits=4,
               proposed_by=w.clerk.id)
    for bad in (0, -1, 9):
        assert set(await refused(service.record_survey, w.clerk, w.home, w.person_a,
                                 date(2026, 11, 18), bad, "")) == {"score"}
    fields = await refused(service.record_survey, w.clerk, w.home, w.person_a,
                           date(2026, 11, 21), 0, "好" * 501)
    assert set(fields) == {"score", "surveyed_on", "comment"}
    fields = await refused(service.record_survey, w.clerk, None, None, None, 5, "")
    assert set(fields) == {"provider", "person", "surveyed_on"}
    # an institution serves the people staying there
    assert "provider" in await refused(service.record_survey, w.clerk, w.institution,
                                       w.person_b, date(2026, 11, 18), 4, "")
    await service.admit(w.clerk, w.entitlement_b, w.institution, date(2026, 11, 5))
    await service.record_survey(w.clerk, w.institution, w.person_b, date(2026, 11, 18), 4, "")

    survey = await service.record_survey(w.clerk, w.home, w.person_a, date(2026, 11, 18), 5,
                                         "  护士很耐心  ")
    assert (survey["score"], survey["comment"]) == (5, "护士很耐心")
    rows = await service.list_surveys(w.clerk, provider=w.home, month=NOVEMBER)
    assert [(r["person.name"], r["provider.name"], r["score"]) for r in rows] == [
        ("张秀英", "测试机构T-P", 5)]
    assert await service.list_surveys(w.clerk, month=date(2026, 10, 1)) == []
    assert [c["provider.name"] for c in await service.survey_candidates(w.clerk, "张秀")] == [
        "测试机构T-P"]
    elsewhere = await user_actor((await make_user("clerk", username="clerk_laocheng",
                                                  region="370983002"))["id"])
    assert await service.list_surveys(elsewhere) == []
    assert "person" in await refused(service.record_survey, elsewhere, w.home, w.person_a,
                                     date(2026, 11, 18), 5, "")


# --- the evaluation --------------------------------------------------------------------------

async def visit(person: int, entitlement: int, provider: int, staff: int, day: date,
                review: str, superseded: bool = False) -> None:
    started = datetime.combine(day, time(9), ltc_clock.CHINA).astimezone(UTC)
    await Visit(client_uuid=uuid.uuid4(), person=person, entitlement=entitlement,
                provider=provider, staff=staff, region_path="370983/370983001/370983001001",
                service_type="home_visit", visit_on=day, started_at=started,
                ended_at=started + timedelta(minutes=45), items="[]", review=review,
                superseded=superseded, response="{}").save()


async def survey(provider: int, person: int, day: date, score: int, clerk: Actor) -> None:
    await Survey(provider=provider, person=person, region_path="370983/370983001/370983001001",
                 surveyed_on=day, score=score, recorded_by=clerk.id).save()


@dataclass
class Evaluated:
    w: World
    other: int  # 测试机构T-P2
    idle: int  # 测试机构T-P3: no plans, visits or surveys
    plan_a: int


@pytest.fixture
async def evaluated(world: World) -> Evaluated:
    """November 2026:
    - A: plan of T-P, 4 visits a month, all month. Visits by T-P: 2 accepted, 1 accepted after
      review, 1 rejected, 1 still flagged, 1 accepted but superseded by a revision (not
      counted), and 1 in December (not counted). Due 4, credited 3.
    - B: plan of T-P, 2 a month, from 1 November, replaced from 16 November by a plan of T-P2,
      4 a month; B in hospital 20–25 November (back on the 26th). T-P: 2 × 15/30 = 1 due,
      2 accepted, credited 1. T-P2: 4 × (15 − 6)/30 = 1.2 → 1 due, 1 accepted.
    - Surveys of T-P: 5, 4, 2 (and a 5 in October, not counted); none of T-P2.
    T-P: due 5, credited 4 (accepted 5) → 80.0 %; logged 7, flagged ever 3 → 42.9 %;
    satisfaction 2/3 → 66.7 %, mean 11/3 → 3.7. T-P2: 1/1 → 100.0 %, flag rate 0.0 %, no
    surveys. T-P3: everything "—"."""
    w = world
    w.clock.set(date(2026, 12, 5))
    other_user = await make_user("provider", username="provider2", organisation="T-P2")
    other = await organisation("T-P2")
    await make_user("provider", username="provider3", organisation="T-P3")
    idle = await organisation("T-P3")
    staff = await user_id("provider")
    by = w.clerk.id
    plan_a = await plan(w.entitlement_a, w.person_a, w.home, starts_on=NOVEMBER, visits=4,
                        proposed_by=by)
    await plan(w.entitlement_b, w.person_b, w.home, starts_on=NOVEMBER, visits=2,
               state="SUPERSEDED", proposed_by=by)
    await plan(w.entitlement_b, w.person_b, other, starts_on=date(2026, 11, 16), visits=4,
               plan_no=2, proposed_by=by)
    await HospitalStay(person=w.person_b, admitted_on=date(2026, 11, 20),
                       discharged_on=date(2026, 11, 26)).save()
    a, b = (w.person_a, w.entitlement_a), (w.person_b, w.entitlement_b)
    for day, review, superseded in [
            (date(2026, 11, 3), "accepted", False), (date(2026, 11, 10), "accepted", False),
            (date(2026, 11, 12), "accepted_after_review", False),
            (date(2026, 11, 17), "rejected", False), (date(2026, 11, 24), "flagged", False),
            (date(2026, 11, 5), "accepted", True), (date(2026, 12, 1), "accepted", False)]:
        await visit(*a, w.home, staff, day, review, superseded)
    for day in (date(2026, 11, 4), date(2026, 11, 11)):
        await visit(*b, w.home, staff, day, "accepted")
    await visit(*b, other, other_user["id"], date(2026, 11, 18), "accepted")
    for day, score in [(date(2026, 11, 20), 5), (date(2026, 11, 21), 4), (date(2026, 11, 22), 2),
                       (date(2026, 10, 30), 5)]:
        await survey(w.home, w.person_a, day, score, w.clerk)
    return Evaluated(w, other, idle, plan_a)


async def test_evaluation_numbers(evaluated: Evaluated) -> None:
    e = evaluated
    rows = {r["name"]: r for r in await service.evaluation(e.w.clerk, NOVEMBER)}
    assert set(rows) >= {"测试机构T-P", "测试机构T-P2", "测试机构T-P3", "仪阳护理院"}
    home = rows["测试机构T-P"]
    assert {k: home[k] for k in ("due", "accepted", "credited", "logged", "flagged", "surveys",
                                 "satisfied")} == {
        "due": 5, "accepted": 5, "credited": 4, "logged": 7, "flagged": 3, "surveys": 3,
        "satisfied": 2}
    assert (home["completion"], home["flag_rate"], home["satisfaction"], home["mean_score"]) == (
        800, 429, 667, 37)
    assert (home["completion_text"], home["flag_rate_text"], home["satisfaction_text"],
            home["mean_score_text"]) == ("80.0%", "42.9%", "66.7%", "3.7")
    other = rows["测试机构T-P2"]
    assert (other["due"], other["credited"], other["completion_text"], other["flag_rate_text"],
            other["satisfaction_text"], other["mean_score_text"]) == (
        1, 1, "100.0%", "0.0%", "—", "—")
    idle = rows["测试机构T-P3"]
    assert (idle["due"], idle["logged"], idle["completion_text"], idle["flag_rate_text"],
            idle["satisfaction_text"]) == (0, 0, "—", "—", "—")
    # December: only A's visit of the 1st; A's plan is due in full, B's T-P2 plan too
    december = {r["name"]: r for r in await service.evaluation(e.w.clerk, date(2026, 12, 1))}
    assert (december["测试机构T-P"]["due"], december["测试机构T-P"]["credited"]) == (4, 1)
    assert december["测试机构T-P2"]["due"] == 4
    # a reviewer sees the same; a clerk of another town sees nothing of this town's people
    reviewer_rows = await service.evaluation(e.w.staff.reviewer, NOVEMBER)
    assert {r["name"]: r["completion"] for r in reviewer_rows}["测试机构T-P"] == 800
    elsewhere = await user_actor((await make_user("clerk", username="clerk_laocheng",
                                                  region="370983002"))["id"])
    far = {r["name"]: r for r in await service.evaluation(elsewhere, NOVEMBER)}
    assert far["测试机构T-P"]["logged"] == 0 and far["测试机构T-P"]["completion"] is None
    with pytest.raises(Forbidden):
        await service.evaluation(await actor_named("provider"), NOVEMBER)


async def test_evaluation_page_sorts_charts_and_exports(evaluated: Evaluated, client) -> None:
    await sign_in(client, "reviewer")
    response = await client.get("/evaluation", params={"month": "2026-11"})
    assert response.status_code == 200
    html = response.text
    assert "护理机构考核：2026年11月" in html and "<svg" in html
    assert 'width="384"' in html  # T-P's completion bar: 80 % of 480 px

    def order(page: str) -> list[str]:
        table = page[page.index("考核明细"):]
        names = ["测试机构T-P<", "测试机构T-P2", "测试机构T-P3", "仪阳护理院", "王庄养老院"]
        return sorted(names, key=table.index)

    # the default sort: completion, highest first, providers without a rate last (by name)
    assert order(html)[:3] == ["测试机构T-P2", "测试机构T-P<", "仪阳护理院"]
    assert "<b>80.0%</b>" in html and "<b>66.7%</b>" in html and "42.9%" in html
    assert 'aria-sort="descending"' in html
    assert "sort=completion&amp;order=asc" in html  # the header link flips the order
    ascending = (await client.get("/evaluation", params={
        "month": "2026-11", "sort": "completion", "order": "asc"})).text
    assert order(ascending)[:2] == ["测试机构T-P<", "测试机构T-P2"]
    by_name = (await client.get("/evaluation", params={
        "month": "2026-11", "sort": "name", "order": "asc"})).text
    assert order(by_name) == ["仪阳护理院", "测试机构T-P<", "测试机构T-P2", "测试机构T-P3",
                              "王庄养老院"]
    # garbage in the query string is a message, not an error
    bad = await client.get("/evaluation", params={"month": "2026-13", "sort": "x;drop"})
    assert bad.status_code == 200 and "无法识别" in bad.text
    export = await client.get("/evaluation/export.csv", params={"month": "2026-11"})
    assert export.status_code == 200
    assert export.content.startswith(b"\xef\xbb\xbf")
    lines = export.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("月份,机构,应上门次数")
    # No return visits drawn for November: sampled 0, reached 0, confirmed rate —, denied 0.
    assert "2026-11,测试机构T-P,5,5,4,80.0%,7,3,42.9%,3,2,66.7%,3.7,0,0,—,0" in lines


async def test_evaluation_is_closed_to_providers(evaluated: Evaluated, client) -> None:
    await sign_in(client, "provider")
    assert (await client.get("/evaluation")).status_code == 403
    assert (await client.get("/evaluation/export.csv")).status_code == 403
    assert (await client.get("/stays")).status_code == 403
    assert (await client.get("/surveys")).status_code == 403
    await sign_in(client, "clerk")
    assert (await client.get("/evaluation?month=2026-11")).status_code == 200


# --- the provider's home page ------------------------------------------------------------------

async def test_provider_home_shows_the_visits_due(evaluated: Evaluated, client) -> None:
    e = evaluated
    e.w.clock.set(date(2026, 11, 20))  # A: 3 counted visits of 4 (one rejected)
    await sign_in(client, "provider")
    html = (await client.get("/")).text
    assert "护理机构工作台" in html and "张秀英" in html
    assert f"/care-plans/{e.plan_a}" in html
    # 2 + after review; the flagged one is shown apart until a reviewer accepts it
    assert ("本月应上门 <b>4</b> 次，已上门 <b>3</b> 次（另有 1 次待审核），还差 <b>1</b> 次"
            in html)
    assert "本月已完成" not in html
    # one flagged visit waits for review; one was rejected this month; A's plan is one
    # accepted visit short. A rejected visit is nothing to do: no badge for it.
    assert queue_counts(html) == {"due_visits": 1, "flagged": 1, "rejected": 1}
    assert badges(html) == {}
    rejected = queue_links(html)["rejected"]
    assert rejected == "/visits?review=rejected&month=2026-11"
    listed = (await client.get(rejected)).text
    assert listed.count('class="tag rejected"') == 1
    assert 'class="tag rejected"' not in (
        await client.get("/visits?review=rejected&month=2026-10")).text
    unreadable = await client.get("/visits?review=rejected&month=2026-13")
    assert unreadable.status_code == 200 and "月份格式应为" in unreadable.text
    assert unreadable.text.count('class="tag rejected"') == 1  # all months, as it says
    # B moved to T-P2 from the 16th: not on T-P's list any more
    assert "李桂兰" not in html

    # a new month: one visit done (1 December); by the 17th the second of four is overdue
    e.w.clock.set(date(2026, 12, 17))
    await sign_in(client, "provider")  # the session of 20 November has expired
    html = (await client.get("/")).text
    assert "已逾期" in html and "还差 <b>3</b> 次" in html
    assert f"/visits/new?person={e.w.person_a}" in html
    assert queue_counts(html)["due_visits"] == 1  # A, first among the queues: overdue
    assert "rejected" not in queue_counts(html)  # November's rejection is history now
    assert "已逾期 · 本月还差 3 次" in html

    await sign_in(client, "provider2")
    html = (await client.get("/")).text
    assert "李桂兰" in html and "张秀英" not in html


# --- the pages -------------------------------------------------------------------------------

async def test_stay_and_survey_pages(world: World, client) -> None:
    w = world
    await sign_in(client, "clerk")
    assert "仪阳护理院" in (await client.get("/stays")).text
    found = (await client.get("/stays/new", params={"q": "张秀英"})).text
    assert f"/stays/new?entitlement={w.entitlement_a}" in found
    form = (await client.get("/stays/new", params={"entitlement": w.entitlement_a})).text
    assert "张秀英" in form and "仪阳护理院（协议床位 1，空余 1）" in form
    token = await csrf_token(client, "/stays/new")
    refused = await client.post("/stays", data={
        "_csrf_token": token, "entitlement": str(w.entitlement_a),
        "institution": str(w.no_beds), "admitted_on": "2026-11-05"})
    assert refused.status_code == 422 and "没有有效的机构护理" in refused.text
    assert await InstitutionalStay.count() == 0
    missing = await client.post("/stays", data={"_csrf_token": token, "admitted_on": "x"})
    assert missing.status_code == 422
    assert "请先查找并选择" in missing.text and "2026-10-01 的格式" in missing.text
    admitted = await client.post("/stays", data={
        "_csrf_token": token, "entitlement": str(w.entitlement_a),
        "institution": str(w.institution), "admitted_on": "2026-11-05"},
        follow_redirects=False)
    assert admitted.status_code in (302, 303)
    stay_id = (await InstitutionalStay.select(InstitutionalStay.id).first())["id"]
    assert admitted.headers["location"] == f"/stays/{stay_id}"
    page = (await client.get(f"/stays/{stay_id}")).text
    assert "办理出院" in page and "机构住养入住" in page  # the timeline
    early = await client.post(f"/stays/{stay_id}/discharge", data={
        "_csrf_token": token, "discharged_on": "2026-11-05"})
    assert early.status_code == 422 and "必须晚于入住日期" in early.text
    out = await client.post(f"/stays/{stay_id}/discharge", data={
        "_csrf_token": token, "discharged_on": "2026-11-15"}, follow_redirects=False)
    assert out.status_code in (302, 303)
    report = (await client.get("/stays/bed-days", params={"month": "2026-11"})).text
    assert "张秀英" in report and "<td>10</td>" in report

    await plan(w.entitlement_a, w.person_a, w.home, starts_on=NOVEMBER, visits=4,
               proposed_by=w.clerk.id)
    found = (await client.get("/surveys/new", params={"q": "zxy"})).text
    assert f"/surveys/new?person={w.person_a}&provider={w.home}" in found
    form = (await client.get("/surveys/new", params={"person": w.person_a,
                                                     "provider": w.home})).text
    assert "满意度评分" in form
    bad = await client.post("/surveys", data={
        "_csrf_token": token, "person": str(w.person_a), "provider": str(w.home),
        "surveyed_on": "2026-11-18", "score": "9"})
    assert bad.status_code == 422 and "1 到 5 分" in bad.text
    good = await client.post("/surveys", data={
        "_csrf_token": token, "person": str(w.person_a), "provider": str(w.home),
        "surveyed_on": "2026-11-18", "score": "4", "comment": "满意"}, follow_redirects=False)
    assert good.status_code in (302, 303)
    assert "满意" in (await client.get("/surveys")).text
    assert await Survey.count() == 1
