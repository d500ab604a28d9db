"""Public notices (公示) closing: decisions and re-assessments when the period ends, the notice
document, and the policy version a notice follows."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest
from conftest import SEVERE_SCORES, make_user
from support.cases import (
    MODERATE_SCORES,
    add_assessors,
    complete_assessment,
    user_actor,
)
from support.notice_cases import (
    CLOSING_DAY,
    LAST_DAY,
    TOWN,
    entry_of,
    objected_with_three_assessors,
    objection,
    pdf_text,
    published,
    world_fixture,  # noqa: F401  (the fixture, by name)
)

from ltc import db, documents
from ltc.agreements import service as agreements
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.enrollment import events
from ltc.entitlements.tables import Decision, Entitlement, EntitlementChange
from ltc.errors import Conflict, Forbidden
from ltc.identity import PUBLIC, SYSTEM
from ltc.jobs.tables import OutboxMessage
from ltc.notices import service
from ltc.notices.jobs import render_batch_document
from ltc.notices.tables import NoticeBatch
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.policy import service as policy

pytestmark = pytest.mark.anyio


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
    added = await add_assessors(staff, 1, organisation="T-A2")
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
