"""Visit logging through the service, with real rows: one test per automatic flag and a
clean visit accepted automatically; replays; the reviewer's decisions; revisions that keep
the original; scoping to the provider of the care plan; the month's visits due; and the
provider's and reviewer's pages.

`care_world` (also used by the browser test) gives a beneficiary a home-care plan with the
test provider T-P, whose nurse and care worker hold staff agreements. Agreements and the
plan are inserted as rows, as a clerk's confirmed ones would be.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import Case, FrozenClock, Staff, entitled_case, make_staff, user_actor

from ltc import clock
from ltc.accounts.tables import User
from ltc.agreements.tables import Agreement
from ltc.audit.tables import AuditEvent
from ltc.careplans.rules import hash_pin
from ltc.careplans.tables import CarePlan, CarePlanLetter
from ltc.enrollment.tables import HospitalStay
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import Actor
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.staff.tables import StaffMember
from ltc.visits import logging as visit_logging
from ltc.visits import queries
from ltc.visits import review as reviews
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio

# The shipped "10+X" package's required items (fixtures/policies/feicheng.json).
REQUIRED = ["B01", "B04", "B08", "B09", "B10", "B11", "B14", "B17", "B20", "B21"]
PLAN_ITEMS = [*REQUIRED, "B02", "C05"]  # + 洗发, 生命体征监测 (nurse only)
HOME = (36.1840, 116.7640)
NEAR_HOME = (36.1850, 116.7645)  # ~120 m
TODAY = date(2026, 12, 15)
# The household PIN on the care-plan letter care_world issues (as the letter's worker would).
PIN = "482113"


@dataclass
class World:
    staff: Staff
    case: Case
    entitlement_id: int
    organisation_id: int
    nurse: Actor
    carer: Actor  # a care worker: no nurse-only items
    plan_id: int


async def _agreement(kind: str, organisation: int, starts_on: date, ends_on: date,
                     staff: int | None = None, qualification: str = "") -> int:
    number = f"XY{kind[:2].upper()}{await Agreement.count() + 1:04d}"
    row = Agreement(number=number, kind=kind, region_path="370983", organisation=organisation,
                    staff=staff, qualification=qualification, home_visits=kind == "provider",
                    starts_on=starts_on, ends_on=ends_on, state="ACTIVE",
                    bank_name="建设银行" if kind == "provider" else "",
                    bank_account="6217000000000000002" if kind == "provider" else "")
    await row.save()
    return row.id


async def care_world(staff: Staff, case: Case, entitlement_id: int, *, plan_from: date,
                     agreements: tuple[date, date]) -> World:
    """The test provider T-P with a nurse and a care worker under agreement, and a home-care
    plan (4 visits a month) for the case's entitlement from `plan_from`."""
    nurse = await make_user("provider", username="nurse")
    carer = await make_user("provider", username="carer")
    for user, name in ((nurse, "王丽"), (carer, "赵强")):
        await User.update({User.display_name: name}).where(User.id == user["id"])
    nurse, carer = await user_actor(nurse["id"]), await user_actor(carer["id"])
    organisation = nurse.organisation_id
    await Organisation.update({Organisation.name: "新城街道社区卫生服务中心"}).where(
        Organisation.id == organisation)
    await _agreement("provider", organisation, *agreements)
    await _agreement("staff", organisation, *agreements, staff=nurse.id, qualification="nurse")
    await _agreement("staff", organisation, *agreements, staff=carer.id,
                     qualification="care_worker")
    await Person.update({Person.latitude: HOME[0], Person.longitude: HOME[1]}).where(
        Person.id == case.person_id)
    plan = CarePlan(entitlement=entitlement_id, person=case.person_id, region_path=(
        await Person.select(Person.region_path).where(Person.id == case.person_id).first()
    )["region_path"], plan_no=1, care_form="home", provider=organisation,
        items=json.dumps(PLAN_ITEMS), visits_per_month=4, starts_on=plan_from, state="ACTIVE",
        proposed_by=staff.clerk.id, confirmed_by=staff.clerk.id)
    await plan.save()
    await CarePlanLetter(person=case.person_id, care_plan=plan.id, region_path=plan.region_path,
                         issue_no=1, requested_by=staff.clerk.id, pin_hash=hash_pin(PIN),
                         letter_sha256="0" * 64, issued_at=clock.now()).save()
    return World(staff, case, entitlement_id, organisation, nurse, carer, plan.id)


async def december_world(monkeypatch: pytest.MonkeyPatch) -> World:
    """张秀英 (grade 5) entitled from 2026-12-01, plan from the same day; today 2026-12-15."""
    frozen = FrozenClock(monkeypatch, date(2026, 11, 20))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=date(2026, 11, 28))
    frozen.set(TODAY)
    return await care_world(staff, case, entitlement_id, plan_from=date(2026, 12, 1),
                            agreements=(date(2026, 1, 1), date(2027, 12, 31)))


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    return await december_world(monkeypatch)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=clock.CHINA)


def visit(world: World, **changes: Any) -> dict[str, Any]:
    """A clean visit on 14 December, 09:00–09:45, every required item and 洗发."""
    values = {"client_uuid": str(uuid.uuid4()), "person_id": world.case.person_id,
              "started_at": at(14, 9), "ended_at": at(14, 9, 45), "items": [*REQUIRED, "B02"],
              "family_confirmed_by": "李明", "confirmation_code": PIN,
              "checkin_latitude": NEAR_HOME[0], "checkin_longitude": NEAR_HOME[1]}
    return {**values, **changes}


async def log(actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    answer, replayed = await visit_logging.log_visit(actor, **values)
    assert not replayed
    return answer


def codes(answer: dict[str, Any]) -> list[str]:
    return [f["code"] for f in answer["flags"]]


# --- a clean visit, and one test per flag ----------------------------------------------------

async def test_a_clean_visit_is_accepted_automatically(world) -> None:
    answer = await log(world.nurse, visit(world))
    assert answer["review"] == "accepted" and answer["review_label"] == "自动通过"
    assert answer["flags"] == []
    row = await Visit.select().where(Visit.id == answer["id"]).first()
    assert row["visit_on"] == date(2026, 12, 14) and row["staff"] == world.nurse.id
    assert row["provider"] == world.organisation_id and row["care_plan"] == world.plan_id
    assert row["entitlement"] == world.entitlement_id
    assert row["region_path"].startswith("370983/")
    assert json.loads(row["response"]) == answer
    event = await AuditEvent.select().where(AuditEvent.action == "visit.logged").first()
    assert event["object_id"] == str(answer["id"]) and "自动通过" in event["summary"]
    # A nurse may do the nurse-only item; a visit on another day is no overlap.
    answer = await log(world.nurse, visit(world, items=[*REQUIRED, "C05"],
                                          started_at=at(13, 9), ended_at=at(13, 10)))
    assert answer["flags"] == []


async def test_overlap_with_the_same_staff_members_other_visit(world) -> None:
    first = await log(world.nurse, visit(world))
    second = await log(world.nurse, visit(world, started_at=at(14, 9, 30),
                                          ended_at=at(14, 10, 15)))
    assert codes(second) == ["overlap"]
    assert f"记录 {first['id']}" in second["flags"][0]["message"]
    # Another staff member at the same time is not an overlap of theirs.
    assert codes(await log(world.carer, visit(world))) == []


async def test_inactive_day_while_in_hospital(world) -> None:
    await HospitalStay(person=world.case.person_id, admitted_on=date(2026, 12, 10),
                       admission_source="test").save()
    answer = await log(world.nurse, visit(world))
    assert codes(answer) == ["inactive_day"]
    assert "住院" in answer["flags"][0]["message"]


async def test_inactive_day_before_the_benefit_starts(world) -> None:
    answer = await log(world.nurse, visit(world, started_at=datetime(
        2026, 11, 30, 9, tzinfo=clock.CHINA), ended_at=datetime(2026, 11, 30, 10,
                                                                tzinfo=clock.CHINA)))
    # No plan is in force before it starts either; logged two weeks later: 补录.
    assert codes(answer) == ["inactive_day", "outside_plan", "late_entry"]
    assert "2026-12-01 起享受" in answer["flags"][0]["message"]


async def test_items_outside_the_plan(world) -> None:
    answer = await log(world.nurse, visit(world, items=[*REQUIRED, "B06"]))
    assert codes(answer) == ["outside_plan"]
    assert "沐浴（B06）" in answer["flags"][0]["message"]


async def test_required_items_missing(world) -> None:
    answer = await log(world.nurse, visit(world, items=[c for c in REQUIRED if c != "B08"]))
    assert codes(answer) == ["required_missing"]
    assert "口腔清洁（B08）" in answer["flags"][0]["message"]


async def test_shorter_than_the_policy_minimum(world) -> None:
    answer = await log(world.nurse, visit(world, ended_at=at(14, 9, 20)))
    assert codes(answer) == ["too_short"]
    assert "20 分钟" in answer["flags"][0]["message"]


async def test_beyond_the_months_quota(world) -> None:
    for day in (1, 2, 3):
        await log(world.nurse, visit(world, started_at=at(day, 9), ended_at=at(day, 10)))
    rejected = await log(world.nurse, visit(world, started_at=at(4, 9), ended_at=at(4, 9, 10)))
    await reviews.review(world.staff.reviewer, rejected["id"], "reject", "时长不足，未核实")
    fourth = await log(world.nurse, visit(world, started_at=at(5, 9), ended_at=at(5, 10)))
    assert codes(fourth) == ["late_entry"]  # the rejected one does not count
    fifth = await log(world.nurse, visit(world))
    assert codes(fifth) == ["over_quota"]
    assert "已有 4 次" in fifth["flags"][0]["message"]


async def test_staff_or_provider_without_an_agreement(world) -> None:
    newcomer = await user_actor((await make_user("provider", username="newcomer"))["id"])
    answer = await log(newcomer, visit(world))
    assert codes(answer) == ["no_agreement"]
    assert "服务人员" in answer["flags"][0]["message"]
    # The provider's agreement terminated from 10 December: not covered on the 14th.
    await Agreement.update({Agreement.state: "TERMINATED",
                            Agreement.state_changed_on: date(2026, 12, 10)}).where(
        Agreement.kind == "provider")
    answer = await log(world.nurse, visit(world, started_at=at(9, 9), ended_at=at(9, 10)))
    assert codes(answer) == ["late_entry"]  # the 9th was still covered
    answer = await log(world.nurse, visit(world, started_at=at(14, 11), ended_at=at(14, 12)))
    assert codes(answer) == ["no_agreement"]
    assert "护理机构新城街道社区卫生服务中心" in answer["flags"][0]["message"]


async def test_nurse_only_item_by_a_care_worker(world) -> None:
    answer = await log(world.carer, visit(world, items=[*REQUIRED, "C05"]))
    assert codes(answer) == ["nurse_only"]
    assert "生命体征监测（C05）" in answer["flags"][0]["message"]


async def test_check_in_far_from_the_registered_address(world) -> None:
    answer = await log(world.nurse, visit(world, checkin_latitude=36.2040,
                                          checkin_longitude=116.7640))
    assert codes(answer) == ["far_from_home"]
    assert "2.2 公里" in answer["flags"][0]["message"]
    # Without check-in coordinates there is nothing to compare.
    answer = await log(world.nurse, visit(world, started_at=at(13, 9), ended_at=at(13, 10),
                                          checkin_latitude=None, checkin_longitude=None))
    assert answer["flags"] == []


# --- what must be said, replays, scoping ------------------------------------------------------

async def test_every_problem_at_once_and_nothing_recorded(world) -> None:
    with pytest.raises(InvalidInput) as refused:
        await visit_logging.log_visit(world.nurse, client_uuid="not-a-uuid", person_id=None,
                                      started_at=at(14, 10), ended_at=at(14, 9),
                                      items=["B01", "ZZ9"], checkin_latitude=95.0,
                                      checkin_longitude=None)
    assert set(refused.value.fields) == {
        "client_uuid", "person_id", "ended_at", "items", "family_confirmed_by",
        "confirmation_code", "checkin_latitude", "checkin_longitude"}
    assert "ZZ9" in refused.value.fields["items"]
    with pytest.raises(InvalidInput) as refused:
        await visit_logging.log_visit(world.nurse, **visit(world, started_at=at(15, 11),
                                                           ended_at=at(15, 12)))
    assert set(refused.value.fields) == {"ended_at"}  # 11:00–12:00 today is in the future
    with pytest.raises(InvalidInput) as refused:
        await visit_logging.log_visit(world.nurse, **visit(world, confirmation_code="",
                                                           signature_png=b"GIF89a"))
    assert set(refused.value.fields) == {"signature_png"}
    assert await Visit.count() == 0


async def test_a_signature_image_stands_for_the_code(world, settings, monkeypatch) -> None:
    monkeypatch.setenv("LTC_MEDIA_DIR", str(settings.media_dir))
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    answer = await log(world.nurse, visit(world, confirmation_code="", signature_png=png))
    row = await Visit.select().where(Visit.id == answer["id"]).first()
    assert row["signature_sha256"] and row["confirmation_code"] == ""
    assert list(settings.media_dir.rglob(row["signature_sha256"]))


async def test_a_replay_returns_the_first_answer_and_creates_nothing(world) -> None:
    values = visit(world)
    first = await log(world.nurse, values)
    events = await AuditEvent.count()
    again, replayed = await visit_logging.log_visit(world.nurse, **{
        **values, "items": list(reversed(values["items"]))})  # the order does not matter
    assert replayed and again == first
    assert await Visit.count() == 1 and await AuditEvent.count() == events
    with pytest.raises(Conflict) as reused:
        await visit_logging.log_visit(world.nurse, **{**values, "notes": "另一条"})
    assert reused.value.code == "uuid_reused" and set(reused.value.fields) == {"notes"}
    with pytest.raises(Conflict):  # the same body from another staff member
        await visit_logging.log_visit(world.carer, **values)
    assert await Visit.count() == 1


async def test_only_the_plans_provider_may_log_and_see(world) -> None:
    other = await user_actor((await make_user("provider", username="other",
                                              organisation="T-P2"))["id"])
    with pytest.raises(NotFound) as refused:
        await visit_logging.log_visit(other, **visit(world))
    assert refused.value.code == "beneficiary_not_found"
    with pytest.raises(NotFound):
        await queries.visit_form(other, world.case.person_id, TODAY)
    answer = await log(world.nurse, visit(world))
    assert await queries.visits_for(other) == []
    with pytest.raises(NotFound):
        await queries.get_visit(other, answer["id"])
    assert await queries.due_visits(other, TODAY) == []
    # Nor may T-P log in the name of T-P2's staff member.
    with pytest.raises(InvalidInput) as refused:
        await visit_logging.log_visit(world.nurse, **visit(world, staff_id=other.id))
    assert set(refused.value.fields) == {"staff_id"}
    with pytest.raises(Forbidden):
        await visit_logging.log_visit(world.staff.clerk, **visit(world))


async def test_a_provider_logs_for_a_colleague(world) -> None:
    answer = await log(world.nurse, visit(world, staff_id=world.carer.id))
    assert answer["staff_id"] == world.carer.id
    assert (await queries.get_visit(world.carer, answer["id"]))["staff.display_name"]


# --- review ----------------------------------------------------------------------------------

async def test_reviewer_accepts_a_flagged_visit_with_a_reason(world) -> None:
    flagged = await log(world.nurse, visit(world, ended_at=at(14, 9, 20)))
    assert flagged["review"] == "flagged"
    queue = await queries.review_queue(world.staff.reviewer)
    assert [r["id"] for r in queue] == [flagged["id"]]
    assert queue[0]["flags"][0]["label"] == "服务时长不足"
    with pytest.raises(InvalidInput) as refused:
        await reviews.review(world.staff.reviewer, flagged["id"], "accept", "  ")
    assert set(refused.value.fields) == {"reason"}
    with pytest.raises(InvalidInput) as refused:
        await reviews.review(world.staff.reviewer, flagged["id"], "maybe", "x")
    assert set(refused.value.fields) == {"decision"}
    for wrong in (world.nurse, world.staff.clerk):
        with pytest.raises(Forbidden):
            await reviews.review(wrong, flagged["id"], "accept", "家属电话核实")
    done = await reviews.review(world.staff.reviewer, flagged["id"], "accept",
                                "家属电话核实：老人当天状态差，提前结束")
    assert done["review"] == "accepted_after_review" and done["review_label"] == "审核通过"
    assert done["reviewed_by"] == world.staff.reviewer.id and done["reviewed_at"]
    assert await queries.review_queue(world.staff.reviewer) == []
    event = await AuditEvent.select().where(AuditEvent.action == "visit.accepted").first()
    assert "提前结束" in event["summary"]


async def test_reviewer_rejects_and_only_flagged_visits_are_reviewed(world) -> None:
    flagged = await log(world.nurse, visit(world, items=REQUIRED[:5]))
    clean = await log(world.nurse, visit(world, started_at=at(13, 9), ended_at=at(13, 10)))
    done = await reviews.review(world.staff.reviewer, flagged["id"], "reject",
                                "必做项目缺一半，家属称未做")
    assert done["review"] == "rejected" and done["review_reason"] == "必做项目缺一半，家属称未做"
    for visit_id in (flagged["id"], clean["id"]):
        with pytest.raises(Conflict) as refused:
            await reviews.review(world.staff.reviewer, visit_id, "accept", "再看看")
        assert refused.value.code == "not_flagged"


# --- revisions -------------------------------------------------------------------------------

async def test_a_revision_is_a_new_record_and_the_original_stays(world) -> None:
    original = await log(world.nurse, visit(world, items=REQUIRED[:-1]))
    assert codes(original) == ["required_missing"]
    revised = await reviews.revise_visit(
        world.nurse, original["id"], "wrong_items", "漏勾了安全护理",
        items=REQUIRED, started_at=at(14, 9, 5), ended_at=at(14, 9, 50),
        confirmation_code=PIN)
    # Moved five minutes: no overlap with the record it replaces.
    assert revised["review"] == "accepted" and revised["flags"] == []
    assert revised["revision_of"] == original["id"] and revised["id"] != original["id"]
    old = await Visit.select().where(Visit.id == original["id"]).first()
    assert old["superseded"] and json.loads(old["items"]) == REQUIRED[:-1]
    assert old["review"] == "flagged"  # left as it was; it simply no longer counts
    new = await Visit.select().where(Visit.id == revised["id"]).first()
    assert new["client_uuid"] != old["client_uuid"]
    assert (new["revision_reason"], new["revision_note"]) == ("wrong_items", "漏勾了安全护理")
    shown = await queries.get_visit(world.nurse, original["id"])
    assert [c["id"] for c in shown["chain"]] == [original["id"], revised["id"]]
    assert shown["superseded_by"] == revised["id"]
    assert [r["id"] for r in await queries.visits_for(world.nurse)] == [revised["id"]]
    assert await queries.review_queue(world.staff.reviewer) == []
    with pytest.raises(Conflict) as refused:
        await reviews.revise_visit(world.nurse, original["id"], "other", "再改一次")
    assert refused.value.code == "already_revised"
    with pytest.raises(Conflict):
        await reviews.review(world.staff.reviewer, original["id"], "accept", "可以")
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.action.like("visit.%")).order_by(AuditEvent.seq)]
    assert actions == ["visit.pin_checked", "visit.logged", "visit.pin_checked",
                       "visit.superseded", "visit.revised"]


async def test_revision_refusals(world) -> None:
    flagged = await log(world.nurse, visit(world, ended_at=at(14, 9, 10)))
    with pytest.raises(InvalidInput) as refused:
        await reviews.revise_visit(world.nurse, flagged["id"], "", "", ended_at=at(14, 8))
    # New times need the family's confirmation afresh.
    assert set(refused.value.fields) == {"reason_code", "ended_at", "confirmation_code"}
    with pytest.raises(InvalidInput) as refused:
        await reviews.revise_visit(world.nurse, flagged["id"], "other", " ")
    assert set(refused.value.fields) == {"revision_note"}
    other = await user_actor((await make_user("provider", username="other",
                                              organisation="T-P2"))["id"])
    with pytest.raises(NotFound):
        await reviews.revise_visit(other, flagged["id"], "wrong_time", "")
    await reviews.review(world.staff.reviewer, flagged["id"], "reject", "时长不足")
    with pytest.raises(Conflict) as refused:
        await reviews.revise_visit(world.nurse, flagged["id"], "wrong_time", "",
                                   ended_at=at(14, 10))
    assert refused.value.code == "already_reviewed"
    assert await Visit.count() == 1


@pytest.mark.parametrize(("day", "refused"), [(13, False), (14, True)])
async def test_a_revision_cannot_move_a_visit_past_the_staff_certificate(
        world, day, refused) -> None:
    """The nurse's certificate ends on 13 December: a visit of the 12th may be corrected to
    the 13th, not to the 14th (the staff register's refusal, as at logging)."""
    original = await log(world.nurse, visit(world, started_at=at(12, 9),
                                            ended_at=at(12, 9, 45)))
    await StaffMember.update({StaffMember.certificate_until: date(2026, 12, 13)}).where(
        StaffMember.user == world.nurse.id)
    moved = reviews.revise_visit(world.nurse, original["id"], "wrong_time", "",
                                 started_at=at(day, 9), ended_at=at(day, 9, 45),
                                 confirmation_code=PIN)
    if not refused:
        assert (await moved)["visit_on"] == f"2026-12-{day}"
        return
    with pytest.raises(InvalidInput) as caught:
        await moved
    assert caught.value.code == "staff_certificate_expired"
    assert "已于2026-12-13到期，2026-12-14不能" in caught.value.fields["started_at"]
    assert await Visit.count() == 1
    assert not (await Visit.select().where(Visit.id == original["id"]).first())["superseded"]


# --- the form and the month's visits due ------------------------------------------------------

async def test_the_form_lists_the_plan_with_required_items_first(world) -> None:
    shown = await queries.visit_form(world.nurse, world.case.person_id, TODAY)
    assert [i["code"] for i in shown["items"]] == [*sorted(REQUIRED), "B02", "C05"]
    assert [i["required"] for i in shown["items"]] == [True] * 10 + [False, False]
    assert shown["items"][-1]["nurse_only"] and shown["items"][-1]["name"] == "生命体征监测"
    assert {s["id"] for s in shown["staff"]} == {world.nurse.id, world.carer.id}


async def test_visits_due_and_overdue(world) -> None:
    # 4 a month in December (31 days): one falls due by the 8th, so on the 15th one is due.
    [row] = await queries.due_visits(world.nurse, TODAY)
    assert (row["person_id"], row["due"], row["done"], row["remaining"]) == (
        world.case.person_id, 4, 0, 4)
    assert row["overdue"] and row["active_today"] and row["last_visit_on"] is None
    await log(world.nurse, visit(world))
    flagged = await log(world.nurse, visit(world, started_at=at(13, 9), ended_at=at(13, 9, 5)))
    await reviews.review(world.staff.reviewer, flagged["id"], "reject", "时长不足")
    [row] = await queries.due_visits(world.nurse, TODAY)
    assert (row["done"], row["remaining"], row["overdue"]) == (1, 3, False)
    assert row["last_visit_on"] == date(2026, 12, 14)


# --- pages -----------------------------------------------------------------------------------

async def test_the_phone_form_records_one_visit_however_often_it_is_sent(client, world) -> None:
    await sign_in(client, "nurse")
    form_page = await client.get(f"/visits/new?person={world.case.person_id}")
    assert form_page.status_code == 200 and "口腔清洁" in form_page.text
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', form_page.text).group(1)
    data = {"_csrf_token": await csrf_token(client, "/visits"), "client_uuid": client_uuid,
            "person_id": str(world.case.person_id), "staff_id": str(world.nurse.id),
            "service_type": "home_visit", "started_at": "2026-12-14T09:00",
            "ended_at": "2026-12-14T09:45", "family_confirmed_by": "李明",
            "confirmation_code": PIN, "checkin_latitude": "", "checkin_longitude": "",
            "items": REQUIRED}
    answers = [await client.post("/visits", data=data, follow_redirects=False)
               for _ in range(2)]
    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    assert await Visit.count() == 1
    changed = await client.post("/visits", data={**data, "ended_at": "2026-12-14T10:00"})
    assert changed.status_code == 409 and "这份表单已经保存过" in changed.text
    assert await Visit.count() == 1
    shown = await client.get(answers[0].headers["location"])
    assert "自动通过" in shown.text and "未发现异常" in shown.text
    listing = await client.get("/visits")
    assert "张秀英" in listing.text and "本月应服务 4 次，已完成 1 次" in listing.text


async def test_the_form_shows_every_problem_next_to_its_field(client, world) -> None:
    await sign_in(client, "nurse")
    answer = await client.post("/visits", data={
        "_csrf_token": await csrf_token(client, "/visits"), "client_uuid": str(uuid.uuid4()),
        "person_id": str(world.case.person_id), "started_at": "2026-12-14T09:00",
        "ended_at": "昨天"})
    assert answer.status_code == 422
    for message in ("请按 2026-12-10 09:00 的格式填写", "请勾选本次完成的护理项目",
                    "请填写确认服务的家属姓名", "请由家属在手机上签名，或填写家属的6位家庭确认码"):
        assert message in answer.text, message
    assert 'value="2026-12-14T09:00"' in answer.text  # what was typed stays
    assert await Visit.count() == 0


async def test_the_review_queue_page(client, world) -> None:
    flagged = await log(world.nurse, visit(world, items=REQUIRED[:9]))
    await sign_in(client, "reviewer")
    queue = await client.get("/visit-review")
    assert "必做项目未完成" in queue.text and "安全护理（B21）" in queue.text
    token = await csrf_token(client, "/visit-review")
    refused = await client.post(f"/visit-review/{flagged['id']}", data={
        "_csrf_token": token, "decision": "reject", "reason": ""})
    assert refused.status_code == 422 and "请填写审核意见" in refused.text
    done = await client.post(f"/visit-review/{flagged['id']}", data={
        "_csrf_token": token, "decision": "reject", "reason": "未做安全护理"},
        follow_redirects=False)
    assert done.status_code == 302
    assert (await Visit.select().where(Visit.id == flagged["id"]).first())["review"] == (
        "rejected")
    assert "没有待审核的服务记录" in (await client.get("/visit-review")).text
    assert (await client.get(f"/visit-review/{flagged['id']}")).status_code == 200
    assert (await client.get("/visits")).status_code == 403


async def test_the_revision_form_on_the_detail_page(client, world) -> None:
    original = await log(world.nurse, visit(world, items=REQUIRED[:9]))
    await sign_in(client, "nurse")
    shown = await client.get(f"/visits/{original['id']}")
    assert "更正这条记录" in shown.text and 'value="2026-12-14T09:00"' in shown.text
    data = {"_csrf_token": await csrf_token(client, "/visits"), "reason_code": "wrong_items",
            "revision_note": "", "started_at": "2026-12-14T09:00",
            "ended_at": "2026-12-14T09:45", "family_confirmed_by": "李明",
            "confirmation_code": PIN, "notes": "", "items": REQUIRED}
    answer = await client.post(f"/visits/{original['id']}/revisions", data=data,
                               follow_redirects=False)
    assert answer.status_code == 302
    revised = await client.get(answer.headers["location"])
    assert "这是对记录" in revised.text and "项目填写错误" in revised.text
    assert "更正记录" in revised.text and "自动通过" in revised.text
    assert "已被更正" in (await client.get(f"/visits/{original['id']}")).text
