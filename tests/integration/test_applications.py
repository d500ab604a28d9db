"""Applications from draft to assignment: roles, states, refusal grounds, stale versions,
scoping, and the assessor draw. Every refused action is shown to change nothing."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import anyio
import pytest
from conftest import make_user, sign_in

from ltc import clock
from ltc.accounts import service as accounts
from ltc.accounts.tables import User
from ltc.agreements.rules import covers
from ltc.agreements.service import active_agreement
from ltc.agreements.tables import Agreement
from ltc.applications import service as apps
from ltc.applications.reference import load_assessment_organisations, materials_checklist
from ltc.applications.tables import Application
from ltc.assessments import assignment
from ltc.assessments.draw import replay
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.db import StaleWrite
from ltc.enrollment.gateway import EnrollmentCheck
from ltc.enrollment.importer import import_enrollment
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, ActorKind
from ltc.organisations.tables import Organisation
from ltc.people import service as people
from ltc.people.reference import load_villages
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio

ZHANG = "370983195001011235"  # 新城街道
LI = "370983196203150043"  # 老城街道
SHAN = "370983198002290014"  # 新城街道
REQUIRED = ["application_form", "id_card", "insurance_card", "medical_records"]
HEADER = "resident_id,insurance_number,name,scheme,region_code,status,start_date,end_date\n"


async def actor(role, username, region="370983", organisation=None):
    user = await make_user(role, username=username, region=region, organisation=organisation)
    return await accounts.actor_for_user(user["id"])


async def snapshot(application_id=None):
    """What a refused action must leave untouched."""
    row = None
    if application_id is not None:
        row = await Application.select().where(Application.id == application_id).first()
    return (row, await Application.count(), await Assessment.count(), await AuditEvent.count())


def years_ago(years: int) -> date:
    return clock.today() - timedelta(days=365 * years)


class World:
    """Villages, organisations, people with enrolment records, and the staff."""


@pytest.fixture
async def world(database_url):
    await load_villages()
    await load_assessment_organisations()
    w = World()
    w.clerk = await actor("clerk", "city_clerk")
    w.xc_clerk = await actor("clerk", "xc_clerk", region="370983001")
    w.lc_clerk = await actor("clerk", "lc_clerk", region="370983002")
    w.people = {}
    for resident_id, name, village in ((ZHANG, "张三", "370983001001"),
                                       (LI, "李四", "370983002001"),
                                       (SHAN, "单田芳", "370983001002")):
        w.people[resident_id] = (await people.register_person(
            w.clerk, resident_id=resident_id, name=name, phone="13812345678",
            address="1组1号", village_code=village))["id"]
    csv = HEADER + "".join(f"{rid},N{rid[-4:]},{name},resident,370983,enrolled,2010-01-01,\n"
                           for rid, name in ((ZHANG, "张三"), (LI, "李四"), (SHAN, "单田芳")))
    await import_enrollment(SYSTEM, csv.encode(), filename="enrolment.csv")
    w.assessors = []
    for i, organisation in enumerate(["AO-370983-01", "AO-370983-01", "AO-370983-02"]):
        w.assessors.append(await actor("assessor", f"assessor{i}", organisation=organisation))
    return w


async def listed(who, **kwargs):
    rows, _ = await apps.list_applications(who, **kwargs)
    return rows


async def new_application(who, person_id, **changes):
    form = {"person_id": person_id, "applicant_name": "张小三", "applicant_relation": "子女",
            "applicant_phone": "13900000000", "disabled_since": years_ago(1),
            "materials": REQUIRED}
    return await apps.create_application(who, **{**form, **changes})


async def submitted(w, resident_id=ZHANG, **changes):
    draft = await new_application(w.clerk, w.people[resident_id], **changes)
    return await apps.submit_application(w.clerk, draft["id"], draft["version"])


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
            return EnrollmentCheck(False, None, None, None, "医保系统：该人员已暂停参保", "http")

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
