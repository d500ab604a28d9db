"""Public notices (公示): batches of concluded cases, publication, objections, the daily
closing that decides each case or sends it to re-assessment, and the notice document."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from conftest import SEVERE_SCORES, make_user
from support.cases import (
    MODERATE_SCORES,
    Case,
    FrozenClock,
    Staff,
    add_assessors,
    complete_assessment,
    concluded_case,
    make_staff,
    user_actor,
)

from ltc import db, documents
from ltc.agreements import service as agreements
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.enrollment import events
from ltc.entitlements.tables import Decision, Entitlement, EntitlementChange
from ltc.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ltc.identity import PUBLIC, SYSTEM
from ltc.jobs.tables import OutboxMessage
from ltc.notices import service
from ltc.notices.jobs import render_batch_document
from ltc.notices.tables import NoticeBatch, NoticeEntry, Objection
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.policy import service as policy

pytestmark = pytest.mark.anyio

CONCLUDED_ON = date(2026, 11, 20)
PUBLISHED_ON = date(2026, 11, 22)  # a Sunday; 5 calendar days → 23–27 November
LAST_DAY = date(2026, 11, 27)
CLOSING_DAY = date(2026, 11, 28)
TOWN, OTHER_TOWN = "370983001", "370983002"


@dataclass
class World:
    clock: FrozenClock
    staff: Staff
    zhang: Case
    ouyang: Case


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    """Two concluded cases in 新城街道 (two villages), four assessors; today is the 22nd."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=4)
    zhang = await concluded_case(staff, name="张秀英")
    ouyang = await concluded_case(staff, name="欧阳娜娜", village="370983001002",
                                  birth=date(1940, 12, 1), sex="M")
    clock.set(PUBLISHED_ON)
    return World(clock, staff, zhang, ouyang)


async def new_batch(w: World, *cases, village: str = "") -> dict:
    cases = cases or (w.zhang, w.ouyang)
    return await service.create_batch(w.staff.clerk, town_code=TOWN, village_code=village,
                                      assessment_ids=[c.assessment_id for c in cases])


async def published(w: World, *cases) -> dict:
    batch = await new_batch(w, *cases)
    return await service.publish(w.staff.clerk, batch["id"], batch["version"])


async def entry_of(case) -> dict:
    return await NoticeEntry.select().where(NoticeEntry.assessment == case.assessment_id).first()


def objection(**changes) -> dict:
    return {"objector_name": "王建国", "objector_phone": "13912345678", "relation": "邻居",
            "reason": "被评估人平时能自己下地干农活，和评估结论不符。", "channel": "online",
            "key": "client-a", **changes}


def pdf_text(path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode()
    return "".join(text.split())  # lines wrap anywhere in Chinese text


async def written() -> tuple[int, ...]:
    return (await NoticeBatch.count(), await NoticeEntry.count(), await Objection.count(),
            await AuditEvent.count())


async def objected_with_three_assessors(monkeypatch):
    """One case on a published notice, objected to, on the closing day; only one assessor
    besides the two who assessed it."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=3)
    case = await concluded_case(staff, name="张秀英")
    clock.set(PUBLISHED_ON)
    batch = await service.create_batch(staff.clerk, town_code=TOWN,
                                       assessment_ids=[case.assessment_id])
    await service.publish(staff.clerk, batch["id"], batch["version"])
    entry = await entry_of(case)
    await service.record_objection(PUBLIC, entry["id"], **objection())
    clock.set(CLOSING_DAY)
    return clock, staff, case, batch, entry


# --- assembling ------------------------------------------------------------------------------

async def test_a_bad_batch_reports_every_problem_and_writes_nothing(world) -> None:
    w = world
    other_region = await user_actor((await make_user("clerk", username="lc_clerk",
                                                     region=OTHER_TOWN))["id"])
    before = await written()
    with pytest.raises(InvalidInput) as caught:
        await service.create_batch(w.staff.clerk, town_code="370983999", assessment_ids=[])
    assert set(caught.value.fields) == {"town", "assessment_ids"}
    with pytest.raises(InvalidInput) as caught:  # 老城社区 is in 老城街道, not 新城街道
        await service.create_batch(w.staff.clerk, town_code=TOWN, village_code="370983002001",
                                   assessment_ids=[])
    assert set(caught.value.fields) == {"village", "assessment_ids"}
    with pytest.raises(InvalidInput) as caught:  # a village code given as the town
        await service.create_batch(w.staff.clerk, town_code="370983001001",
                                   assessment_ids=[w.zhang.assessment_id])
    assert set(caught.value.fields) == {"town"}
    with pytest.raises(InvalidInput) as caught:  # a clerk of 老城街道 and a 新城街道 batch
        await service.create_batch(other_region, town_code=TOWN,
                                   assessment_ids=[w.zhang.assessment_id])
    assert set(caught.value.fields) == {"town"}
    with pytest.raises(Conflict) as conflict:  # the case lives in 新城街道
        await service.create_batch(w.staff.clerk, town_code=OTHER_TOWN,
                                   assessment_ids=[w.zhang.assessment_id])
    assert conflict.value.code == "not_noticeable"
    with pytest.raises(Conflict):  # 张秀英 lives in 龙山社区, not 凤山社区
        await new_batch(w, w.zhang, village="370983001002")
    with pytest.raises(Forbidden):
        await service.create_batch(w.staff.reviewer, town_code=TOWN,
                                   assessment_ids=[w.zhang.assessment_id])
    assert await written() == before


async def test_a_case_is_on_one_notice_only(world) -> None:
    w = world
    waiting = await service.noticeable(w.staff.clerk, "370983/" + TOWN)
    assert {r["id"] for r in waiting} == {w.zhang.assessment_id, w.ouyang.assessment_id}
    first = await new_batch(w, w.zhang)
    assert first["state"] == "DRAFT" and first["number"].startswith("GS20261122")
    assert [r["id"] for r in await service.noticeable(w.staff.clerk, "370983/" + TOWN)] == [
        w.ouyang.assessment_id]
    before = await written()
    with pytest.raises(Conflict) as caught:
        await new_batch(w, w.zhang, w.ouyang)
    assert caught.value.code == "not_noticeable"
    assert await written() == before
    village_batch = await new_batch(w, w.ouyang, village="370983001002")
    assert village_batch["region_path"] == "370983/370983001/370983001002"
    assert await service.noticeable(w.staff.clerk, "370983") == []


# --- what the public sees --------------------------------------------------------------------

async def test_the_public_sees_masked_entries_only(world) -> None:
    w = world
    batch = await new_batch(w)
    with pytest.raises(NotFound):  # a draft is not public yet
        await service.public_batch(batch["number"])
    await service.publish(w.staff.clerk, batch["id"], batch["version"])
    public = await service.public_batch(batch["number"])
    entries = {e["masked_name"]: e for e in public["entries"]}
    assert set(entries) == {"张**", "欧阳**"}
    assert entries["张**"]["village_name"] == "龙山社区"
    assert entries["张**"]["grade_label"] == "重度失能Ⅲ级"
    assert (entries["张**"]["sex"], entries["张**"]["age"]) == ("F", 77)
    assert (entries["欧阳**"]["sex"], entries["欧阳**"]["age"]) == ("M", 85)
    assert entries["张**"]["assessed_on"] == CONCLUDED_ON
    assert entries["张**"]["organisation_name"] == "测试机构T-A"
    assert public["open"] is True
    context = await service.document_context(batch["id"], "https://ltc.example.gov.cn")
    assert context["public_url"] == f"https://ltc.example.gov.cn/n/{batch['number']}"
    assert context["notice_days"] == 5 and context["bureau"]["name"] == "肥城市医疗保障局"
    for shown in (public, context):
        text = json.dumps(shown, default=str, ensure_ascii=False)
        for secret in ("张秀英", "欧阳娜娜", w.zhang.resident_id, w.ouyang.resident_id,
                       "scores", "eating"):
            assert secret not in text


# --- publishing ------------------------------------------------------------------------------

async def test_publication_fixes_the_period_from_the_policy(world) -> None:
    w = world
    batch = await new_batch(w)
    with pytest.raises(Forbidden):
        await service.publish(w.staff.reviewer, batch["id"], batch["version"])
    with pytest.raises(db.StaleWrite):
        await service.publish(w.staff.clerk, batch["id"], batch["version"] + 1)
    after = await service.publish(w.staff.clerk, batch["id"], batch["version"])
    assert after["state"] == "PUBLISHED" and after["published_on"] == PUBLISHED_ON
    assert (after["starts_on"], after["ends_on"]) == (date(2026, 11, 23), LAST_DAY)
    assert after["policy_version"] is not None and after["published_by"] == w.staff.clerk.id
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == "notices.render_document") == 1
    with pytest.raises(Conflict) as caught:
        await service.publish(w.staff.clerk, batch["id"], after["version"])
    assert caught.value.code == "wrong_state"
    event = await AuditEvent.select().where(AuditEvent.action == "notice_batch.published").first()
    assert '"ends_on": "2026-11-27"' in event["summary"]


# --- objections ------------------------------------------------------------------------------

async def test_an_objection_with_problems_reports_them_all(world) -> None:
    w = world
    await published(w)
    entry = await entry_of(w.zhang)
    with pytest.raises(InvalidInput) as caught:
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_name="王", objector_phone="12345", relation="朋友", reason="不对",
            channel="paper"))
    assert set(caught.value.fields) == {"objector_name", "objector_phone", "relation",
                                        "reason", "channel"}
    assert await Objection.count() == 0
    with pytest.raises(NotFound):
        await service.record_objection(PUBLIC, entry["id"] + 100, **objection())


async def test_objections_only_during_the_period(world) -> None:
    w = world
    draft = await new_batch(w, w.zhang)
    entry = await entry_of(w.zhang)
    with pytest.raises(Conflict) as caught:  # not published yet
        await service.record_objection(PUBLIC, entry["id"], **objection())
    assert caught.value.code == "notice_not_open"
    await service.publish(w.staff.clerk, draft["id"], draft["version"])
    # From the publication day itself through the last day.
    first = await service.record_objection(PUBLIC, entry["id"], **objection())
    assert first["channel"] == "online" and first["recorded_by"] is None
    w.clock.set(LAST_DAY)
    await service.record_objection(PUBLIC, entry["id"], **objection(
        objector_phone="13912345679"))
    w.clock.set(CLOSING_DAY)
    with pytest.raises(Conflict) as caught:
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_phone="13912345670"))
    assert caught.value.code == "notice_not_open" and "2026-11-27" in caught.value.message
    assert await Objection.count() == 2


async def test_the_same_phone_objects_to_an_entry_once(world) -> None:
    w = world
    await published(w)
    zhang, ouyang = await entry_of(w.zhang), await entry_of(w.ouyang)
    await service.record_objection(PUBLIC, zhang["id"], **objection())
    with pytest.raises(DomainError) as caught:
        await service.record_objection(PUBLIC, zhang["id"], **objection(key="client-b"))
    assert (caught.value.code, caught.value.status_code) == ("duplicate_objection", 409)
    # The same person may object to another entry.
    await service.record_objection(PUBLIC, ouyang["id"], **objection())
    assert await Objection.count() == 2


async def test_public_objections_are_rate_limited(world) -> None:
    w = world
    await published(w)
    entry = await entry_of(w.zhang)
    for n in range(service.PUBLIC_LIMIT_PER_HOUR):
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_phone=f"1391234560{n}"))
    with pytest.raises(DomainError) as caught:
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_phone="13912345699"))
    assert (caught.value.code, caught.value.status_code) == ("too_many_objections", 429)
    assert await Objection.count() == service.PUBLIC_LIMIT_PER_HOUR
    # An hour later the same client may object again.
    w.clock.advance(hours=1, minutes=1)
    await service.record_objection(PUBLIC, entry["id"], **objection(
        objector_phone="13912345699"))


async def test_a_clerk_records_an_objection_received_on_paper(world) -> None:
    w = world
    await published(w)
    entry = await entry_of(w.zhang)
    w.clock.set(CLOSING_DAY)  # the letter was received on the 25th, entered on the 28th
    with pytest.raises(Forbidden):
        await service.record_objection(w.staff.reviewer, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 25)))
    lc_clerk = await user_actor((await make_user("clerk", username="lc_clerk",
                                                 region=OTHER_TOWN))["id"])
    with pytest.raises(NotFound):  # a clerk of another town does not see the entry
        await service.record_objection(lc_clerk, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 25)))
    with pytest.raises(InvalidInput) as caught:  # outside the period
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 21)))
    assert set(caught.value.fields) == {"received_on"}
    with pytest.raises(InvalidInput) as caught:  # after the period, i.e. today
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="phone"))
    assert set(caught.value.fields) == {"received_on"}
    with pytest.raises(InvalidInput) as caught:
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="fax", received_on=date(2026, 11, 25)))
    assert set(caught.value.fields) == {"channel"}
    paper = await service.record_objection(w.staff.clerk, entry["id"], **objection(
        channel="paper", received_on=date(2026, 11, 25), key="clerk"))
    assert paper["recorded_by"] == w.staff.clerk.id
    assert paper["received_at"] == datetime.fromisoformat("2026-11-25T00:00:00+08:00")
    with pytest.raises(DomainError) as caught:  # the same form sent twice
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 25), key="clerk"))
    assert (caught.value.code, caught.value.status_code) == ("duplicate_objection", 409)
    assert await Objection.count() == 1
    assert await service.close_due(CLOSING_DAY) == 1
    assert (await entry_of(w.zhang))["outcome"] == "OBJECTED"


# --- closing ---------------------------------------------------------------------------------

async def test_closing_runs_the_day_after_the_period_and_only_once(world) -> None:
    w = world
    batch = await published(w)
    assert await service.close_due(LAST_DAY) == 0
    assert (await NoticeBatch.select().where(NoticeBatch.id == batch["id"]).first())[
        "state"] == "PUBLISHED"
    assert await Decision.count() == 0
    assert await service.close_due(CLOSING_DAY) == 1
    assert await service.close_due(CLOSING_DAY) == 0
    assert await service.close_due(CLOSING_DAY + timedelta(days=1)) == 0
    assert await service.close_batch(batch["id"], CLOSING_DAY) == 0
    row = await NoticeBatch.select().where(NoticeBatch.id == batch["id"]).first()
    assert row["state"] == "CLOSED" and row["closed_at"] is not None
    assert await AuditEvent.count().where(AuditEvent.action == "notice_batch.closed") == 1
    assert await Decision.count() == 2 and await Entitlement.count() == 2


async def test_a_batch_missed_for_days_is_closed_on_catch_up(world) -> None:
    w = world
    batch = await published(w, w.zhang)
    later = date(2026, 12, 3)  # the scheduler was down from the 27th
    w.clock.set(later)
    assert await service.close_due(later) == 1
    assert (await NoticeBatch.select().where(NoticeBatch.id == batch["id"]).first())[
        "state"] == "CLOSED"
    decision = await Decision.select().where(
        Decision.application == w.zhang.application_id).first()
    assert decision["decided_on"] == later
    entitlement = await Entitlement.select().where(Entitlement.decision == decision["id"]).first()
    assert entitlement["starts_on"] == date(2027, 1, 1)


async def test_no_objection_decides_the_case_and_grants_the_entitlement(world) -> None:
    w = world
    await published(w)
    w.clock.set(CLOSING_DAY)
    await service.close_due(CLOSING_DAY)
    assert (await entry_of(w.zhang))["outcome"] == "NO_OBJECTION"
    decision = await Decision.select().where(
        Decision.application == w.zhang.application_id).first()
    assert (decision["basis"], decision["grade"], decision["eligible"]) == (
        "no_objection", 5, True)
    assert decision["decided_on"] == CLOSING_DAY and decision["number"].startswith("JD20261128")
    assert decision["assessment"] == w.zhang.assessment_id
    entitlement = await Entitlement.select().where(Entitlement.decision == decision["id"]).first()
    assert (entitlement["starts_on"], entitlement["expires_on"]) == (
        date(2026, 12, 1), date(2028, 11, 30))
    assert entitlement["state"] == "ACTIVE" and entitlement["person"] == w.zhang.person_id
    assert entitlement["policy_version"] == decision["policy_version"]
    application = await Application.select().where(
        Application.id == w.zhang.application_id).first()
    assert application["state"] == "CLOSED"
    started = await EntitlementChange.select().where(
        EntitlementChange.entitlement == entitlement["id"])
    assert [(c["kind"], c["state_after"], c["effective_on"]) for c in started] == [
        ("started", "ACTIVE", date(2026, 12, 1))]
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == "decisions.render_letter") == 2


async def test_an_objection_sends_the_case_to_two_other_assessors(world) -> None:
    w = world
    await published(w)
    entry = await entry_of(w.zhang)
    await service.record_objection(PUBLIC, entry["id"], **objection())
    w.clock.set(CLOSING_DAY)
    await service.close_due(CLOSING_DAY)
    entry = await entry_of(w.zhang)
    assert entry["outcome"] == "OBJECTED" and entry["reassessment"] is not None
    again = await Assessment.select().where(Assessment.id == entry["reassessment"]).first()
    assert (again["kind"], again["state"], again["application"]) == (
        "reassessment", "ASSIGNED", w.zhang.application_id)
    pair = {again["assessor_1"], again["assessor_2"]}
    assert len(pair) == 2 and not pair & set(w.zhang.assessors)
    assert again["due_on"] == date(2026, 12, 11)  # 10 working days after Saturday the 28th
    assert await Decision.count().where(Decision.application == w.zhang.application_id) == 0
    assert (await Application.select().where(
        Application.id == w.zhang.application_id).first())["state"] == "ASSIGNED"
    # The other case had no objection: decided.
    assert (await entry_of(w.ouyang))["outcome"] == "NO_OBJECTION"

    # The re-assessment finds a moderate disability: final, decided at once, not re-noticed.
    batches = await NoticeBatch.count()
    concluded = await complete_assessment(w.staff, again["id"], MODERATE_SCORES)
    assert concluded["grade"] == 2
    decision = await Decision.select().where(
        Decision.application == w.zhang.application_id).first()
    assert (decision["basis"], decision["grade"], decision["eligible"]) == (
        "reassessment", 2, False)
    assert decision["assessment"] == again["id"]
    assert await Entitlement.count().where(Entitlement.person == w.zhang.person_id) == 0
    assert (await Application.select().where(
        Application.id == w.zhang.application_id).first())["state"] == "CLOSED"
    assert await NoticeBatch.count() == batches
    assert await service.noticeable(w.staff.clerk, "370983") == []


async def test_too_few_other_assessors_leaves_the_objection_for_the_clerk(
        database_url, monkeypatch) -> None:
    _clock, staff, case, batch, entry = await objected_with_three_assessors(monkeypatch)
    assert await service.close_due(CLOSING_DAY) == 1
    entry = await entry_of(case)
    assert (entry["outcome"], entry["reassessment"]) == ("OBJECTED", None)
    assert await Assessment.count().where(Assessment.kind == "reassessment") == 0
    unassigned = await AuditEvent.select().where(
        AuditEvent.action == "notice.reassessment_unassigned").first()
    assert unassigned["object_id"] == str(entry["id"])
    assert "评估员只有1名" in unassigned["summary"]
    assert (await NoticeBatch.select().where(NoticeBatch.id == batch["id"]).first())[
        "state"] == "CLOSED"

    with pytest.raises(Conflict) as caught:  # still only one other assessor
        await service.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    assert caught.value.code == "not_enough_assessors"
    added = await add_assessors(staff, 1)
    with pytest.raises(Forbidden):
        await service.assign_reassessment(staff.reviewer, entry["id"], CLOSING_DAY)
    again = await service.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    third = next(a.id for a in staff.assessors[:3] if a.id not in case.assessors)
    assert {again["assessor_1"], again["assessor_2"]} == {third, added[0].id}
    assert again["kind"] == "reassessment" and again["due_on"] == date(2026, 12, 11)
    with pytest.raises(Conflict) as caught:
        await service.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    assert caught.value.code == "wrong_state"

    # Its conclusion is final: an eligible grade gives the entitlement without a second notice.
    await complete_assessment(staff, again["id"], SEVERE_SCORES)
    decision = await Decision.select().where(Decision.application == case.application_id).first()
    assert (decision["basis"], decision["eligible"], decision["assessment"]) == (
        "reassessment", True, again["id"])
    entitlement = await Entitlement.select().where(Entitlement.decision == decision["id"]).first()
    assert entitlement["starts_on"] == date(2026, 12, 1)
    assert await NoticeBatch.count() == 1


async def test_an_objection_waits_while_the_other_assessor_has_no_agreement(
        database_url, monkeypatch) -> None:
    _clock, staff, case, _batch, entry = await objected_with_three_assessors(monkeypatch)
    outsider = await make_user("assessor", username="outsider", organisation="T-B",
                               agreement=False)
    assert await service.close_due(CLOSING_DAY) == 1
    assert (await entry_of(case))["reassessment"] is None
    unassigned = await AuditEvent.select().where(
        AuditEvent.action == "notice.reassessment_unassigned").first()
    reason = ("另有1名评估员因所在评估机构（测试机构T-B）在2026-11-28没有生效的评估协议"
              "而不能抽取")
    assert reason in unassigned["summary"]

    # The clerk assigning by hand is refused for the same reason, and nothing changes.
    before = (await Assessment.count(), await AuditEvent.count())
    with pytest.raises(Conflict) as caught:
        await service.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    assert caught.value.code == "not_enough_assessors" and reason in caught.value.message
    assert (await Assessment.count(), await AuditEvent.count()) == before

    # An agreement that ended before the day does not help either; a new one does.
    organisation = (await Organisation.select(Organisation.id).where(
        Organisation.code == "T-B").first())["id"]
    terms = {"organisation": organisation, "starts_on": date(2026, 1, 1)}
    old = await agreements.create_agreement(staff.clerk, "assessment", **terms,
                                            ends_on=CLOSING_DAY + timedelta(days=30))
    old = await agreements.activate(staff.clerk, old["id"], old["version"])
    await agreements.terminate(staff.clerk, old["id"], old["version"], reason="机构整改",
                               from_day=CLOSING_DAY)
    with pytest.raises(Conflict, match="not_enough_assessors"):
        await service.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    signed = await agreements.create_agreement(staff.clerk, "assessment", **{
        **terms, "starts_on": CLOSING_DAY}, ends_on=date(2027, 11, 27))
    await agreements.activate(staff.clerk, signed["id"], signed["version"])
    again = await service.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    third = next(a.id for a in staff.assessors if a.id not in case.assessors)
    assert {again["assessor_1"], again["assessor_2"]} == {third, outsider["id"]}


# --- the document ----------------------------------------------------------------------------

async def test_the_notice_document_is_stored_masked_and_reproducible(
        world, monkeypatch, tmp_path) -> None:
    media = tmp_path / "media"
    monkeypatch.setenv("LTC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LTC_MEDIA_DIR", str(media))
    monkeypatch.setenv("LTC_PUBLIC_URL", "https://ltc.example.gov.cn")
    monkeypatch.delenv("LTC_DATABASE_URL", raising=False)
    monkeypatch.delenv("LTC_BROKER_URL", raising=False)
    w = world
    batch = await published(w)
    sha256 = await render_batch_document(batch["id"])
    row = await NoticeBatch.select().where(NoticeBatch.id == batch["id"]).first()
    assert row["document_sha256"] == sha256 and row["document_rendered_at"] is not None
    path = documents.path_for(sha256, media)
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == sha256
    assert await render_batch_document(batch["id"]) == sha256
    assert await AuditEvent.count().where(
        AuditEvent.action == "notice_batch.document_rendered") == 1
    text = pdf_text(path)
    assert "公示" in text and "张**" in text and "欧阳**" in text
    assert batch["number"] in text and "2026年11月27日" in text
    assert f"https://ltc.example.gov.cn/n/{batch['number']}" in text  # where to object online
    for secret in ("张秀英", "欧阳娜娜", w.zhang.resident_id, w.ouyang.resident_id):
        assert secret not in text


# --- policy versions -------------------------------------------------------------------------

async def add_policy(effective_from: date, **changes) -> None:
    """A new Feicheng policy version (added by an admin today) with `changes`."""
    fixture = json.loads((policy.FIXTURES / "feicheng.json").read_text(encoding="utf-8"))
    admin = await user_actor((await make_user("admin"))["id"])
    await policy.add_version(admin, "370983", effective_from,
                             {**fixture["definition"], **changes}, note="测试")


async def test_each_batch_keeps_the_period_of_the_policy_in_force_when_published(
        world) -> None:
    """From 2027 the notice runs 5 working days: published on Thursday 4 February 2027,
    before the Spring Festival (5–13 Feb off, Sunday the 14th worked), it ends on the 18th."""
    w = world
    await add_policy(date(2027, 1, 1), notice_day_kind="working")
    first = await published(w, w.zhang)
    assert (first["starts_on"], first["ends_on"]) == (date(2026, 11, 23), LAST_DAY)
    assert await service.close_due(CLOSING_DAY) == 1
    w.clock.set(date(2027, 2, 4))
    second = await published(w, w.ouyang)
    assert (second["starts_on"], second["ends_on"]) == (date(2027, 2, 5), date(2027, 2, 18))
    assert second["policy_version"] != first["policy_version"]
    stored = await NoticeBatch.select().where(NoticeBatch.id == first["id"]).first()
    assert stored["ends_on"] == LAST_DAY  # fixed at publication, not recomputed
    context = await service.document_context(second["id"], "https://ltc.example.gov.cn")
    assert context["day_kind_label"] == "工作日"
    assert await service.close_due(date(2027, 2, 18)) == 0
    assert await service.close_due(date(2027, 2, 19)) == 1


async def test_a_reassessment_is_noticed_again_when_the_policy_says_so(world) -> None:
    w = world
    await add_policy(date(2026, 11, 25), renotice_after_reassessment=True)
    await published(w, w.zhang)
    entry = await entry_of(w.zhang)
    await service.record_objection(PUBLIC, entry["id"], **objection())
    w.clock.set(CLOSING_DAY)
    await service.close_due(CLOSING_DAY)
    again = (await entry_of(w.zhang))["reassessment"]
    await complete_assessment(w.staff, again, SEVERE_SCORES)
    assert await Decision.count().where(Decision.application == w.zhang.application_id) == 0
    waiting = await service.noticeable(w.staff.clerk, "370983")
    assert {r["id"]: r["kind"] for r in waiting} == {again: "reassessment",
                                                     w.ouyang.assessment_id: "initial"}
    w.clock.set(date(2026, 11, 29))
    second = await service.create_batch(w.staff.clerk, town_code=TOWN,
                                        assessment_ids=[again])
    second = await service.publish(w.staff.clerk, second["id"], second["version"])
    assert second["ends_on"] == date(2026, 12, 4)
    assert await service.close_due(date(2026, 12, 5)) == 1
    decision = await Decision.select().where(
        Decision.application == w.zhang.application_id).first()
    assert (decision["assessment"], decision["basis"], decision["decided_on"]) == (
        again, "no_objection", date(2026, 12, 5))
    entitlement = await Entitlement.select().where(Entitlement.decision == decision["id"]).first()
    assert entitlement["starts_on"] == date(2027, 1, 1)


async def test_no_reassessment_is_assigned_once_the_case_has_closed(
        database_url, monkeypatch) -> None:
    """The objection waited for assessors; meanwhile the person died and the case closed:
    nobody is sent to re-assess them."""
    clock, staff, case, _batch, entry = await objected_with_three_assessors(monkeypatch)
    await service.close_due(CLOSING_DAY)
    clock.set(date(2026, 11, 30))
    async with db.write_transaction():
        person = await Person.select().where(Person.id == case.person_id).first()
        await events.apply(SYSTEM, "deceased", person, date(2026, 11, 29), "事件 d1")
    await add_assessors(staff, 1)
    with pytest.raises(Conflict) as caught:
        await service.assign_reassessment(staff.clerk, entry["id"], date(2026, 11, 30))
    assert caught.value.code == "case_closed"
    assert await Assessment.count().where(Assessment.kind == "reassessment") == 0
    assert (await entry_of(case))["reassessment"] is None


async def test_an_unknown_holiday_year_leaves_the_reassessment_to_the_clerk(world) -> None:
    """Closing in a year with no holiday table: the re-assessment's working-day deadline
    cannot be computed, so that entry waits (with the reason); the other is decided."""
    w = world
    await published(w)
    await service.record_objection(PUBLIC, (await entry_of(w.zhang))["id"], **objection())
    late = date(2028, 1, 10)  # neither chinesecalendar nor fixtures/holidays.json know 2028
    w.clock.set(late)
    assert await service.close_due(late) == 1
    entry = await entry_of(w.zhang)
    assert (entry["outcome"], entry["reassessment"]) == ("OBJECTED", None)
    unassigned = await AuditEvent.select().where(
        AuditEvent.action == "notice.reassessment_unassigned").first()
    assert "2028年的法定节假日和调休安排未知" in json.loads(unassigned["summary"])["note"]
    assert await Decision.count().where(Decision.application == w.ouyang.application_id) == 1
    with pytest.raises(Conflict) as caught:
        await service.assign_reassessment(w.staff.clerk, entry["id"], late)
    assert caught.value.code == "holiday_calendar_missing"
