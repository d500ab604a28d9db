"""Applications from draft to acceptance: the whole path, refusal grounds, roles, states,
versions, scope and the list."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import anyio
import pytest
from support.application_cases import (
    HEADER,
    LI,
    REQUIRED,
    SHAN,
    ZHANG,
    actor,
    listed,
    new_application,
    snapshot,
    submitted,
    world_fixture,  # noqa: F401  (the fixture, by name)
)

from ltc import clock
from ltc.applications import service as apps
from ltc.applications.reference import materials_checklist
from ltc.applications.tables import Application
from ltc.assessments import assignment
from ltc.assessments.draw import replay
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.db import StaleWrite
from ltc.enrollment.gateway import EnrollmentCheck
from ltc.enrollment.importer import import_enrollment
from ltc.enrollment.rules import EnrolmentStatus
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, ActorKind
from ltc.organisations.tables import Organisation

pytestmark = pytest.mark.anyio


async def test_the_whole_path_from_draft_to_two_assessors(world) -> None:
    w = world
    draft = await new_application(w.clerk, w.people[ZHANG], agent_name="王代办",
                                  agent_phone="0538-3221234",
                                  materials=[*REQUIRED, "agent_id_card", "authorisation"])
    assert draft["state"] == "DRAFT" and draft["state_label"] == "草稿"
    assert re.fullmatch(r"SQ\d{8}0001", draft["number"])
    assert draft["number"][2:10] == clock.today().strftime("%Y%m%d")
    assert draft["person.resident_id_masked"] == "370983********1235"
    assert draft["region_path"] == "370983/370983001/370983001001"
    assert draft["agent_phone"] == "0538-3221234"

    sent = await apps.submit_application(w.clerk, draft["id"], 1)
    assert (sent["state"], sent["version"]) == ("SUBMITTED", 2) and sent["submitted_at"]
    accepted = await apps.accept_application(w.xc_clerk, sent["id"], 2)
    assert (accepted["state"], accepted["version"]) == ("ACCEPTED", 3) and accepted["decided_at"]

    assessment = await assignment.assign_assessors(w.clerk, sent["id"], 3, seed="fixed-seed")
    assert (assessment["state"], assessment["kind"]) == ("ASSIGNED", "initial")
    assert assessment["region_path"] == draft["region_path"]
    pair = (assessment["assessor_1"], assessment["assessor_2"])
    assert pair[0] != pair[1] and set(pair) <= {a.id for a in w.assessors}
    draw = json.loads(assessment["draw"])
    assert replay(assessment["draw"]) == pair and draw["seed"] == "fixed-seed"
    assert [c["workload"] for c in draw["candidates"]] == [0, 0, 0]
    assert {c["organisation"] for c in draw["candidates"]} == {"肥城市人民医院", "肥城市中医医院"}
    assigned = await apps.get_application(w.clerk, sent["id"])
    assert (assigned["state"], assigned["version"]) == ("ASSIGNED", 4)

    timeline = await apps.application_timeline(w.clerk, sent["id"])
    assert [e["action"] for e in timeline] == [
        "application.created", "application.submitted", "application.accepted",
        "assessment.assigned", "application.assigned"]
    accepted_event = json.loads(timeline[2]["summary"])
    assert accepted_event["after"]["enrolment"]["insurance_number"] == "N1235"


def _refusal_cases():
    """(name, setup, application changes, expected grounds)"""
    return [
        ("not enrolled", "unenrol", {}, ["not_enrolled"]),
        ("enrolment ended", "end_enrolment", {}, ["not_enrolled"]),
        ("disability under 6 months", None,
         {"disabled_since": clock.today() - timedelta(days=30)}, ["disability_too_recent"]),
        ("materials incomplete", None, {"materials": ["id_card"]}, ["materials_incomplete"]),
        ("agent without ID card", None, {"agent_name": "王代办", "agent_phone": "13700000000"},
         ["materials_incomplete"]),
        ("conclusion under 6 months", "recent_conclusion", {}, ["recent_conclusion"]),
        ("insured elsewhere", "insured_elsewhere", {}, ["outside_region"]),
        ("all at once", "unenrol_and_conclusion",
         {"materials": [], "disabled_since": clock.today()},
         ["not_enrolled", "disability_too_recent", "materials_incomplete",
          "recent_conclusion"]),
    ]


async def _prepare(w, setup):
    if setup in ("unenrol", "unenrol_and_conclusion"):
        csv = HEADER + f"{ZHANG},N1,张三,resident,370983,ended,2010-01-01,2011-01-01\n"
        await import_enrollment(SYSTEM, csv.encode(), filename="ended.csv")
    if setup == "end_enrolment":
        yesterday = (clock.today() - timedelta(days=1)).isoformat()
        csv = HEADER + f"{ZHANG},N1,张三,resident,370983,ended,2010-01-01,{yesterday}\n"
        await import_enrollment(SYSTEM, csv.encode(), filename="ended.csv")
    if setup == "insured_elsewhere":
        csv = HEADER + f"{ZHANG},N1,张三,resident,370982,enrolled,2010-01-01,\n"
        await import_enrollment(SYSTEM, csv.encode(), filename="moved.csv")
    if setup in ("recent_conclusion", "unenrol_and_conclusion"):
        await _concluded_earlier(w, days_ago=100)


async def _concluded_earlier(w, days_ago):
    """An earlier, closed application of 张三 with an assessment concluded `days_ago`."""
    user_id = w.clerk.id
    earlier = Application(number="SQ200001010001", person=w.people[ZHANG],
                          region_path="370983/370983001/370983001001", state="CLOSED",
                          applicant_name="张三", applicant_relation="本人",
                          applicant_phone="13812345678", disabled_since=date(2019, 1, 1),
                          created_by=user_id)
    await earlier.save()
    await Assessment(application=earlier.id, region_path=earlier.region_path, kind="initial",
                     state="CONCLUDED", assessor_1=w.assessors[0].id,
                     assessor_2=w.assessors[1].id, draw="{}", grade=2,
                     concluded_at=datetime.now(UTC) - timedelta(days=days_ago)).save()


@pytest.mark.parametrize(("name", "setup", "changes", "expected"), _refusal_cases(),
                         ids=[case[0] for case in _refusal_cases()])
async def test_each_refusal_ground_blocks_acceptance_and_changes_nothing(
    world, name, setup, changes, expected
) -> None:
    await _prepare(world, setup)
    application = await submitted(world, **changes)
    before = await snapshot(application["id"])
    with pytest.raises(InvalidInput) as caught:
        await apps.accept_application(world.clerk, application["id"], application["version"])
    assert caught.value.code == "refusal_grounds_apply"
    assert list(caught.value.fields) == expected
    assert await snapshot(application["id"]) == before
    preview = await apps.acceptance_check(world.clerk, application["id"])
    assert [g.code for g in preview] == expected


async def test_an_old_conclusion_does_not_block(world) -> None:
    await _concluded_earlier(world, days_ago=200)
    application = await submitted(world)
    assert (await apps.accept_application(world.clerk, application["id"], 2))["state"] == (
        "ACCEPTED")


async def test_the_materials_ground_lists_every_missing_item(world) -> None:
    application = await submitted(world, materials=["insurance_card"], agent_name="王代办",
                                  agent_phone="13700000000")
    with pytest.raises(InvalidInput) as caught:
        await apps.accept_application(world.clerk, application["id"], 2)
    names = {m.code: m.name for m in materials_checklist()}
    message = caught.value.fields["materials_incomplete"]
    for code in ("application_form", "id_card", "medical_records", "agent_id_card",
                 "authorisation"):
        assert names[code] in message
    assert names["insurance_card"] not in message

    # The applicant brings the rest; the clerk records them; acceptance goes through.
    updated = await apps.update_materials(world.clerk, application["id"], 2, [
        *REQUIRED, "agent_id_card", "authorisation"])
    assert (await apps.accept_application(world.clerk, application["id"],
                                          updated["version"]))["state"] == "ACCEPTED"


async def test_the_gateway_is_asked_for_the_enrolment_check(world) -> None:
    class Remote:
        def __init__(self):
            self.asked = []

        async def check(self, resident_id, on):
            self.asked.append((resident_id, on))
            return EnrollmentCheck(EnrolmentStatus.not_enrolled, None, None, None,
                                   "医保系统：该人员已暂停参保", "http")

    application = await submitted(world)
    gateway = Remote()
    with pytest.raises(InvalidInput) as caught:
        await apps.accept_application(world.clerk, application["id"], 2, gateway=gateway,
                                      today=date(2026, 11, 22))
    assert gateway.asked == [(ZHANG, date(2026, 11, 22))]
    assert caught.value.fields["not_enrolled"].startswith("医保系统：该人员已暂停参保")


async def test_reject_needs_grounds_and_a_reason(world) -> None:
    application = await submitted(world, materials=["id_card"])
    before = await snapshot(application["id"])
    with pytest.raises(InvalidInput) as caught:
        await apps.reject_application(world.clerk, application["id"], 2, [], " ")
    assert set(caught.value.fields) == {"grounds", "note"}
    with pytest.raises(InvalidInput) as caught:
        await apps.reject_application(world.clerk, application["id"], 2, ["no_such"], "x")
    assert "未知的理由编码：no_such" in caught.value.fields["grounds"]
    assert await snapshot(application["id"]) == before

    rejected = await apps.reject_application(
        world.clerk, application["id"], 2, ["materials_incomplete", "other"],
        "材料不全，已一次性告知申请人需补齐的材料")
    assert (rejected["state"], rejected["state_label"]) == ("REJECTED", "不予受理")
    assert rejected["decision_note"] == "材料不全，已一次性告知申请人需补齐的材料"
    grounds = {g["code"]: g["detail"] for g in rejected["refusal_grounds"]}
    assert grounds["materials_incomplete"].startswith("缺少以下材料：")
    assert "医保参保凭证" in grounds["materials_incomplete"]
    assert grounds["other"] == "其他不符合受理条件的情形"
    event = await AuditEvent.select().where(AuditEvent.action == "application.rejected").first()
    assert "已一次性告知" in event["summary"]
    # Rejected is final: a new application may follow.
    with pytest.raises(Conflict, match="wrong_state"):
        await apps.accept_application(world.clerk, application["id"], 3)
    assert (await new_application(world.clerk, world.people[ZHANG]))["state"] == "DRAFT"


async def test_wrong_roles_are_forbidden_and_change_nothing(world) -> None:
    application = await submitted(world)
    reviewer = await actor("reviewer", "r1")
    provider = await actor("provider", "p1", region="370983001")
    before = await snapshot(application["id"])
    for who in (world.assessors[0], reviewer, provider):
        with pytest.raises(Forbidden):
            await apps.accept_application(who, application["id"], 2)
        with pytest.raises(Forbidden):
            await apps.reject_application(who, application["id"], 2, ["other"], "x")
    for who in (world.assessors[0], reviewer):
        with pytest.raises(Forbidden):
            await new_application(who, world.people[SHAN])
        with pytest.raises(Forbidden):
            await apps.submit_application(who, application["id"], 2)
    public = Actor(kind=ActorKind.public, id=None, name="公众", role=None)
    with pytest.raises(Forbidden):
        await apps.accept_application(public, application["id"], 2)
    assert await snapshot(application["id"]) == before
    accepted = await apps.accept_application(world.clerk, application["id"], 2)
    with pytest.raises(Forbidden):
        await assignment.assign_assessors(reviewer, accepted["id"], 3)


async def test_wrong_state_names_the_current_state(world) -> None:
    draft = await new_application(world.clerk, world.people[ZHANG])
    before = await snapshot(draft["id"])
    with pytest.raises(Conflict) as caught:
        await apps.accept_application(world.clerk, draft["id"], 1)
    assert caught.value.code == "wrong_state"
    assert caught.value.message == f"申请 {draft['number']} 当前状态为“草稿”，不能受理"
    with pytest.raises(Conflict, match="wrong_state"):
        await assignment.assign_assessors(world.clerk, draft["id"], 1)
    with pytest.raises(Conflict, match="wrong_state"):
        await apps.reject_application(world.clerk, draft["id"], 1, ["other"], "x")
    assert await snapshot(draft["id"]) == before
    await apps.submit_application(world.clerk, draft["id"], 1)
    with pytest.raises(Conflict) as caught:
        await apps.submit_application(world.clerk, draft["id"], 2)
    assert "当前状态为“待受理”，不能提交" in caught.value.message


async def test_a_stale_version_is_refused(world) -> None:
    draft = await new_application(world.clerk, world.people[ZHANG])
    await apps.update_materials(world.clerk, draft["id"], 1, REQUIRED[:2])
    before = await snapshot(draft["id"])
    with pytest.raises(StaleWrite):  # the form was loaded at version 1
        await apps.submit_application(world.clerk, draft["id"], 1)
    with pytest.raises(StaleWrite):
        await apps.update_materials(world.clerk, draft["id"], 1, REQUIRED)
    assert await snapshot(draft["id"]) == before

    # Two clerks accept the same application at the same moment: exactly one wins.
    await apps.submit_application(world.clerk, draft["id"], 2)
    await apps.update_materials(world.clerk, draft["id"], 3, REQUIRED)
    outcomes = []

    async def accept(who):
        try:
            await apps.accept_application(who, draft["id"], 4)
            outcomes.append("ok")
        except (StaleWrite, Conflict) as exc:
            outcomes.append(type(exc).__name__)

    async with anyio.create_task_group() as group:
        group.start_soon(accept, world.clerk)
        group.start_soon(accept, world.xc_clerk)
    assert sorted(outcomes)[0] in ("Conflict", "StaleWrite") and sorted(outcomes)[1] == "ok"
    assert await AuditEvent.count().where(AuditEvent.action == "application.accepted") == 1


async def test_create_reports_every_problem_at_once(world) -> None:
    before = await snapshot()
    with pytest.raises(InvalidInput) as caught:
        await apps.create_application(
            world.clerk, person_id=999999, applicant_name="", applicant_relation="邻居",
            applicant_phone="123", agent_name="王代办", agent_phone="",
            disabled_since="2026-02-30", materials=["id_card", "passport"])
    assert set(caught.value.fields) == {"person_id", "applicant_name", "applicant_relation",
                                        "applicant_phone", "agent_phone", "disabled_since",
                                        "materials"}
    assert "不是有效日期" in caught.value.fields["disabled_since"]
    assert "passport" in caught.value.fields["materials"]
    with pytest.raises(InvalidInput) as caught:
        await new_application(world.clerk, world.people[ZHANG],
                              disabled_since=clock.today() + timedelta(days=1))
    assert caught.value.fields == {"disabled_since": "失能开始日期不能晚于今天"}
    with pytest.raises(InvalidInput) as caught:
        await new_application(world.clerk, world.people[ZHANG], disabled_since="1900-01-01")
    assert caught.value.fields == {"disabled_since": "失能开始日期不能早于出生日期"}
    assert await snapshot() == before

    first = await new_application(world.clerk, world.people[ZHANG])
    before = await snapshot()
    with pytest.raises(Conflict) as caught:
        await new_application(world.clerk, world.people[ZHANG])
    assert caught.value.code == "application_open" and first["number"] in caught.value.message
    assert await snapshot() == before
    withdrawn = await apps.withdraw_application(world.clerk, first["id"], 1, "误登记")
    assert withdrawn["state"] == "CLOSED"
    second = await new_application(world.clerk, world.people[ZHANG])
    assert second["number"].endswith("0002")


async def test_a_town_clerk_sees_only_their_town(world) -> None:
    zhang = await submitted(world, ZHANG)
    li = await submitted(world, LI)
    assert {a["id"] for a in await listed(world.clerk)} == {zhang["id"], li["id"]}
    assert [a["id"] for a in await listed(world.xc_clerk)] == [zhang["id"]]
    assert [a["id"] for a in await listed(world.lc_clerk)] == [li["id"]]
    before = await snapshot(zhang["id"])
    with pytest.raises(NotFound):
        await apps.get_application(world.lc_clerk, zhang["id"])
    with pytest.raises(NotFound):
        await apps.accept_application(world.lc_clerk, zhang["id"], 2)
    with pytest.raises(NotFound):
        await apps.application_timeline(world.lc_clerk, zhang["id"])
    with pytest.raises(InvalidInput) as caught:  # cannot file for someone outside the town
        await new_application(world.lc_clerk, world.people[ZHANG])
    assert "person_id" in caught.value.fields
    assert await snapshot(zhang["id"]) == before


async def test_a_provider_files_on_the_persons_behalf(world) -> None:
    provider = await actor("provider", "p1", region="370983001")
    draft = await new_application(provider, world.people[ZHANG], applicant_relation="机构")
    organisation = await Organisation.select().where(Organisation.code == "T-P").first()
    assert draft["on_behalf_of"] == organisation["id"]
    assert draft["on_behalf_of.name"] == organisation["name"]
    assert draft["created_by"] == provider.id
    sent = await apps.submit_application(provider, draft["id"], 1)
    with pytest.raises(Conflict):  # a provider may not change materials once handed in
        await apps.update_materials(provider, sent["id"], 2, REQUIRED)
    # The provider sees its own applications only; the clerk decides.
    await submitted(world, SHAN)
    assert [a["id"] for a in await listed(provider)] == [draft["id"]]
    other = await actor("provider", "p2", region="370983001", organisation="T-P2")
    assert await listed(other) == []
    with pytest.raises(NotFound):
        await apps.get_application(other, draft["id"])
    with pytest.raises(InvalidInput):  # 李四 lives in another town
        await new_application(provider, world.people[LI])
    assert (await apps.accept_application(world.clerk, sent["id"], 2))["state"] == "ACCEPTED"


async def test_list_search_filters_and_stable_pages(world) -> None:
    ids = [(await submitted(world, rid))["id"] for rid in (ZHANG, LI, SHAN)]
    # Two created at the same instant: the id breaks the tie, no row lost or repeated.
    same = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    await Application.update({Application.created_at: same}).where(
        Application.id.is_in(ids[:2]))

    async def ids_of(**kwargs):
        return [a["id"] for a in await listed(world.clerk, **kwargs)]

    assert await ids_of() == [ids[2], ids[1], ids[0]]
    page1, next1 = await apps.list_applications(world.clerk, limit=2)
    page2, next2 = await apps.list_applications(world.clerk, limit=2, after=next1)
    assert [a["id"] for a in page1 + page2] == [ids[2], ids[1], ids[0]]
    assert next1 == page1[-1]["cursor"] and next2 is None
    page2b, _ = await apps.list_applications(world.clerk, limit=1, after=page1[0]["cursor"])
    assert [a["id"] for a in page2b] == [ids[1]]
    _, last = await apps.list_applications(world.clerk, limit=3)
    assert last is None  # exactly a page full: no empty next page

    assert await ids_of(q="李") == [ids[1]]
    assert await ids_of(q="stf") == [ids[2]]
    assert await ids_of(q="37098319") == [ids[2], ids[1], ids[0]]
    assert await ids_of(q=SHAN) == [ids[2]]
    assert await ids_of(q="138123") == [ids[2], ids[1], ids[0]]
    number = (await apps.get_application(world.clerk, ids[1]))["number"]
    assert await ids_of(q=number.lower()) == [ids[1]]
    await apps.accept_application(world.clerk, ids[1], 2)
    assert await ids_of(state="ACCEPTED") == [ids[1]]
    assert await ids_of(state="SUBMITTED", q="zs") == [ids[0]]
    with pytest.raises(InvalidInput):
        await apps.list_applications(world.clerk, state="LOST")
    with pytest.raises(InvalidInput):
        await apps.list_applications(world.clerk, after="garbage")
    row = (await listed(world.clerk, q="李"))[0]
    assert row["person.resident_id_masked"] == "370983********0043"
    assert "person.resident_id" not in row and row["state_label"] == "已受理"


