"""Enrolment events at the service level (the HTTP endpoint has its own tests): parsing,
signatures and replays, and the effects on entitlements and open cases — hospital stays in
either order, death (also during a stay), enrolment ending and moving out — and the same
effect from the CSV import."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest
from support.cases import (
    FrozenClock,
    Staff,
    assigned_case,
    concluded_case,
    entitled_case,
    make_staff,
    register,
)

from ltc import db
from ltc.accounts import service as accounts
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.enrollment import events
from ltc.enrollment.gateway import LocalEnrollmentGateway
from ltc.enrollment.importer import import_enrollment
from ltc.enrollment.tables import EnrollmentEvent, EnrollmentRecord, HospitalStay
from ltc.entitlements import service as entitlements
from ltc.entitlements.rules import active_days, state_on
from ltc.entitlements.tables import Entitlement, EntitlementChange
from ltc.errors import DomainError, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM
from ltc.notices import service as notices
from ltc.notices.tables import NoticeEntry
from ltc.people.tables import Person

pytestmark = pytest.mark.anyio

CONCLUDED_ON = date(2026, 11, 20)
DECIDED_ON = date(2026, 11, 28)  # entitled from 1 December 2026


@dataclass
class World:
    clock: FrozenClock
    staff: Staff
    person_id: int
    resident_id: str
    entitlement_id: int


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, name="张秀英", decided_on=DECIDED_ON)
    clock.set(date(2027, 3, 1))
    return World(clock, staff, case.person_id, case.resident_id, entitlement_id)


async def apply(kind: str, person_id: int, day: date, source: str = "事件 test") -> list[str]:
    async with db.write_transaction():
        person = await Person.select().where(Person.id == person_id).first()
        return await events.apply(SYSTEM, kind, person, day, source)


async def entitlement(entitlement_id: int) -> dict:
    return await Entitlement.select().where(Entitlement.id == entitlement_id).first()


async def facts(entitlement_id: int):
    return await entitlements.facts_of(await entitlement(entitlement_id))


async def changes(entitlement_id: int) -> list[tuple]:
    rows = await EntitlementChange.select().where(
        EntitlementChange.entitlement == entitlement_id).order_by(EntitlementChange.id)
    return [(r["kind"], r["state_after"], r["effective_on"]) for r in rows]


def march() -> list[date]:
    return [date(2027, 3, d) for d in range(1, 32)]


# --- parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "fields"), [
    ({}, {"event_id", "type", "resident_id", "effective_date"}),
    ([], {"body"}),
    ({"event_id": " ", "type": "married", "resident_id": "370983194903152025",
      "effective_date": "2027-02-30"}, {"event_id", "type", "resident_id", "effective_date"}),
    ({"event_id": "e" * 101, "type": "deceased", "resident_id": "37098319490315202",
      "effective_date": 20270301}, {"event_id", "resident_id", "effective_date"}),
    ({"event_id": "e1", "type": "deceased", "resident_id": "370983194903152024",
      "effective_date": "2027-03-02"}, {"effective_date"}),  # after today
])
async def test_a_bad_event_names_every_bad_field(data, fields, monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2027, 3, 1))
    with pytest.raises(InvalidInput) as caught:
        events.parse_event(data)
    assert set(caught.value.fields) == fields


async def test_a_good_event_is_parsed_and_normalised(monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2027, 3, 1))
    event = events.parse_event({"event_id": " hosp-1 ", "type": "hospital_admitted",
                                "resident_id": "11010519491231002x",
                                "effective_date": "2027-03-01"})
    assert event == events.Event("hosp-1", "hospital_admitted", "11010519491231002X",
                                 date(2027, 3, 1))


# --- hospital stays --------------------------------------------------------------------------

async def test_a_hospital_stay_suspends_from_admission_and_resumes_on_discharge(world) -> None:
    w = world
    w.clock.set(date(2027, 3, 11))
    assert await apply("hospital_admitted", w.person_id, date(2027, 3, 10)) == [
        "hospital_stay_recorded", "entitlement_suspended"]
    assert (await entitlement(w.entitlement_id))["state"] == "SUSPENDED"
    # The same admission reported twice records nothing more.
    assert await apply("hospital_admitted", w.person_id, date(2027, 3, 10)) == [
        "already_in_hospital"]
    w.clock.set(date(2027, 3, 20))
    assert await apply("hospital_discharged", w.person_id, date(2027, 3, 20)) == [
        "hospital_stay_recorded", "entitlement_resumed"]
    assert (await entitlement(w.entitlement_id))["state"] == "ACTIVE"
    stays = await HospitalStay.select().where(HospitalStay.person == w.person_id)
    assert [(s["admitted_on"], s["discharged_on"]) for s in stays] == [
        (date(2027, 3, 10), date(2027, 3, 20))]
    f = await facts(w.entitlement_id)
    assert state_on(f, date(2027, 3, 10)) == "SUSPENDED"
    assert state_on(f, date(2027, 3, 20)) == "ACTIVE"
    assert active_days(f, march()) == 31 - 10  # 10–19 March in hospital
    assert (await changes(w.entitlement_id))[1:] == [
        ("suspended", "SUSPENDED", date(2027, 3, 10)),
        ("resumed", "ACTIVE", date(2027, 3, 20))]
    assert await AuditEvent.count().where(
        AuditEvent.action == "enrollment.hospital_admitted") == 2


async def test_a_discharge_that_arrives_before_its_admission(world) -> None:
    w = world
    w.clock.set(date(2027, 3, 22))
    assert await apply("hospital_discharged", w.person_id, date(2027, 3, 20)) == [
        "discharge_waiting_for_admission"]
    assert (await entitlement(w.entitlement_id))["state"] == "ACTIVE"
    assert active_days(await facts(w.entitlement_id), march()) == 31  # nothing known yet
    assert await apply("hospital_admitted", w.person_id, date(2027, 3, 10)) == [
        "hospital_stay_recorded", "entitlement_suspended"]
    stays = await HospitalStay.select().where(HospitalStay.person == w.person_id)
    assert [(s["admitted_on"], s["discharged_on"]) for s in stays] == [
        (date(2027, 3, 10), date(2027, 3, 20))]
    f = await facts(w.entitlement_id)
    assert (await entitlement(w.entitlement_id))["state"] == "ACTIVE"  # home since the 20th
    assert state_on(f, date(2027, 3, 15)) == "SUSPENDED"
    assert active_days(f, march()) == 21
    # A later stay, admitted and still in hospital today.
    w.clock.set(date(2027, 4, 2))
    await apply("hospital_admitted", w.person_id, date(2027, 4, 1))
    assert (await entitlement(w.entitlement_id))["state"] == "SUSPENDED"


async def test_a_stay_of_someone_without_an_entitlement_is_only_recorded(world) -> None:
    w = world
    person = await register(w.staff, name="李四")
    assert await apply("hospital_admitted", person["id"], date(2027, 2, 1)) == [
        "hospital_stay_recorded"]
    assert await EntitlementChange.count().where(
        EntitlementChange.entitlement == w.entitlement_id) == 1


# --- endings ---------------------------------------------------------------------------------

async def test_death_during_a_hospital_stay_ends_the_entitlement_after_that_day(world) -> None:
    w = world
    w.clock.set(date(2027, 3, 10))
    await apply("hospital_admitted", w.person_id, date(2027, 3, 10))
    w.clock.set(date(2027, 3, 17))
    effects = await apply("deceased", w.person_id, date(2027, 3, 15))
    assert effects == ["death_recorded", "entitlement_ended"]
    row = await entitlement(w.entitlement_id)
    assert (row["state"], row["ends_on"], row["end_reason"]) == (
        "ENDED", date(2027, 3, 15), "deceased")
    f = await facts(w.entitlement_id)
    assert state_on(f, date(2027, 3, 15)) == "SUSPENDED"  # in hospital on the day of death
    assert state_on(f, date(2027, 3, 16)) == "ENDED"
    assert active_days(f, march()) == 9
    person = await Person.select().where(Person.id == w.person_id).first()
    assert person["deceased_on"] == date(2027, 3, 15)
    assert (await changes(w.entitlement_id))[-1] == ("ended", "ENDED", date(2027, 3, 15))
    # The discharge that follows (from the hospital's records) resumes nothing.
    history = await changes(w.entitlement_id)
    assert await apply("hospital_discharged", w.person_id, date(2027, 3, 15)) == [
        "hospital_stay_recorded"]
    assert (await entitlement(w.entitlement_id))["state"] == "ENDED"
    assert await changes(w.entitlement_id) == history


async def test_death_closes_the_open_application_and_cancels_its_assessment(world) -> None:
    w = world
    person = await register(w.staff, name="李四")
    assessment = await assigned_case(w.staff, person)
    assert await apply("deceased", person["id"], date(2027, 2, 27)) == [
        "death_recorded", "cases_closed"]
    application = await Application.select().where(
        Application.id == assessment["application"]).first()
    assert application["state"] == "CLOSED" and "死亡" in application["decision_note"]
    cancelled = await Assessment.select().where(Assessment.id == assessment["id"]).first()
    assert cancelled["state"] == "CANCELLED"
    actions = {e["action"] for e in await AuditEvent.select(AuditEvent.action)}
    assert {"application.closed", "assessment.cancelled", "enrollment.deceased"} <= actions
    # The entitlement of someone else is untouched.
    assert (await entitlement(w.entitlement_id))["state"] == "ACTIVE"


async def test_a_person_who_dies_during_the_notice_is_withdrawn_at_closing(
        database_url, monkeypatch) -> None:
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="王芳")
    clock.set(date(2026, 11, 22))
    batch = await notices.create_batch(staff.clerk, town_code="370983001",
                                       assessment_ids=[case.assessment_id])
    await notices.publish(staff.clerk, batch["id"], batch["version"])
    clock.set(date(2026, 11, 25))
    assert await apply("deceased", case.person_id, date(2026, 11, 24)) == [
        "death_recorded", "cases_closed"]
    concluded = await Assessment.select().where(Assessment.id == case.assessment_id).first()
    assert concluded["state"] == "CONCLUDED"  # a conclusion stays what it was
    assert await notices.close_due(date(2026, 11, 28)) == 1
    entry = await NoticeEntry.select().where(NoticeEntry.assessment == case.assessment_id).first()
    assert entry["outcome"] == "WITHDRAWN"
    assert await Entitlement.count() == 0


@pytest.mark.parametrize("kind", ["enrollment_ended", "moved_out"])
async def test_enrolment_ending_or_moving_out_ends_it_the_day_before(world, kind) -> None:
    w = world
    w.clock.set(date(2027, 5, 3))
    assert (await apply(kind, w.person_id, date(2027, 5, 1)))[-1] == "entitlement_ended"
    row = await entitlement(w.entitlement_id)
    assert (row["state"], row["ends_on"], row["end_reason"]) == (
        "ENDED", date(2027, 4, 30), kind)
    record = await EnrollmentRecord.select().where(
        EnrollmentRecord.resident_id == w.resident_id).first()
    if kind == "enrollment_ended":
        assert (record["status"], record["end_date"]) == ("ended", date(2027, 4, 30))
    else:
        assert (record["status"], record["end_date"]) == ("enrolled", None)
    # A later ending event does not move the end.
    await apply("deceased", w.person_id, date(2027, 5, 2))
    assert (await entitlement(w.entitlement_id))["ends_on"] == date(2027, 4, 30)


async def test_an_ending_before_the_first_day_means_no_benefit_day_at_all(
        database_url, monkeypatch) -> None:
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=DECIDED_ON)
    clock.set(DECIDED_ON)
    await apply("moved_out", case.person_id, date(2026, 11, 28))
    row = await entitlement(entitlement_id)
    assert (row["state"], row["ends_on"]) == ("ENDED", date(2026, 11, 27))
    assert active_days(await facts(entitlement_id), [date(2026, 12, d) for d in range(1, 32)]) == 0


async def test_an_ended_row_in_the_enrolment_csv_ends_the_entitlement(world) -> None:
    w = world
    w.clock.set(date(2027, 2, 10))
    csv = ("resident_id,insurance_number,name,scheme,region_code,status,start_date,end_date\n"
           f"{w.resident_id},N{w.resident_id[-6:]},张秀英,resident,370983,ended,2010-01-01,"
           "2027-01-31\n").encode()
    report = await import_enrollment(w.staff.clerk, csv, filename="ended.csv", dry_run=True)
    assert report.updated == 1
    assert (await entitlement(w.entitlement_id))["ends_on"] is None  # a dry run changes nothing
    await import_enrollment(w.staff.clerk, csv, filename="ended.csv")
    row = await entitlement(w.entitlement_id)
    assert (row["state"], row["ends_on"], row["end_reason"]) == (
        "ENDED", date(2027, 1, 31), "enrollment_ended")
    change = await EntitlementChange.select().where(
        EntitlementChange.kind == "ended").first()
    assert change["source"].startswith("导入 ended.csv")
    again = await import_enrollment(w.staff.clerk, csv, filename="ended.csv")
    assert again.unchanged == 1
    assert await EntitlementChange.count().where(EntitlementChange.kind == "ended") == 1


async def test_an_enrolled_event_makes_the_person_enrolled(world) -> None:
    """Someone registered before the bureau's CSV lists them: the event is what tells the
    acceptance check that they are insured; a later re-enrolment leaves the gap uncovered."""
    w = world
    person = await register(w.staff, name="李四", enrolled=False)
    gateway = LocalEnrollmentGateway()
    assert not (await gateway.check(person["resident_id"], date(2027, 3, 1))).enrolled
    assert await apply("enrolled", person["id"], date(2027, 3, 1)) == ["enrollment_recorded"]
    check = await gateway.check(person["resident_id"], date(2027, 3, 1))
    assert (check.enrolled, check.region_code) == (True, "370983")
    assert not (await gateway.check(person["resident_id"], date(2027, 2, 28))).enrolled

    w.clock.set(date(2027, 4, 1))
    await apply("enrollment_ended", person["id"], date(2027, 4, 1))
    assert not (await gateway.check(person["resident_id"], date(2027, 4, 1))).enrolled
    assert (await gateway.check(person["resident_id"], date(2027, 3, 31))).enrolled
    w.clock.set(date(2027, 6, 1))
    await apply("enrolled", person["id"], date(2027, 6, 1))
    assert (await gateway.check(person["resident_id"], date(2027, 6, 1))).enrolled
    assert not (await gateway.check(person["resident_id"], date(2027, 5, 15))).enrolled
    # A repeated `enrolled` for someone insured all along changes nothing.
    before = await EnrollmentRecord.select().where(
        EnrollmentRecord.resident_id == w.resident_id).first()
    await apply("enrolled", w.person_id, date(2027, 6, 1))
    after = await EnrollmentRecord.select().where(
        EnrollmentRecord.resident_id == w.resident_id).first()
    assert (after["status"], after["start_date"], after["end_date"]) == (
        before["status"], before["start_date"], None)


# --- receiving signed events -----------------------------------------------------------------

@pytest.fixture
async def token_client(world):
    token, row = await accounts.issue_token(SYSTEM, name="医保核心系统", role="clerk",
                                            region_code="370983", organisation_code=None)
    secret = row["signing_secret"]
    assert len(secret) == 64 and int(secret, 16) >= 0
    stored = await accounts.list_tokens()
    assert "signing_secret" not in stored[0]  # shown once, at issue, never listed
    return await accounts.actor_for_token(token), secret


def body(world: World, **changes) -> bytes:
    return json.dumps({"event_id": "hosp-0001", "type": "hospital_admitted",
                       "resident_id": world.resident_id, "effective_date": "2027-03-01",
                       **changes}).encode()


async def nothing_applied(world: World) -> bool:
    return (await EnrollmentEvent.count() == 0 and await HospitalStay.count() == 0
            and (await entitlement(world.entitlement_id))["state"] == "ACTIVE")


async def test_a_signed_event_is_applied_once_and_replayed(world, token_client) -> None:
    actor, secret = token_client
    data = body(world)
    answer, replayed = await events.receive(actor, data, events.sign(secret, data))
    assert replayed is False
    assert answer["effects"] == ["hospital_stay_recorded", "entitlement_suspended"]
    assert answer["person_id"] == world.person_id
    again, replayed = await events.receive(actor, data, events.sign(secret, data))
    assert (again, replayed) == (answer, True)
    assert await HospitalStay.count() == 1 and await EnrollmentEvent.count() == 1
    assert await EntitlementChange.count().where(EntitlementChange.kind == "suspended") == 1
    other = body(world, effective_date="2027-02-28")  # same id, other content
    with pytest.raises(DomainError) as caught:
        await events.receive(actor, other, events.sign(secret, other))
    assert (caught.value.code, caught.value.status_code) == ("event_id_reused", 409)


async def test_a_bad_signature_or_an_unknown_person_changes_nothing(world, token_client) -> None:
    actor, secret = token_client
    data = body(world)
    for signature in (None, "", events.sign("another-secret", data),
                      events.sign(secret, data + b" ")):
        with pytest.raises(events.BadSignature) as caught:
            await events.receive(actor, data, signature)
        assert caught.value.status_code == 401
    unknown = body(world, resident_id="11010519491231002X")
    with pytest.raises(NotFound) as caught:
        await events.receive(actor, unknown, events.sign(secret, unknown))
    assert caught.value.code == "person_not_found" and "110105" in caught.value.message
    garbage = b"{not json"
    with pytest.raises(InvalidInput):
        await events.receive(actor, garbage, events.sign(secret, garbage))
    with pytest.raises(Forbidden):  # a signed-in user cannot post events
        await events.receive(world.staff.clerk, data, events.sign(secret, data))
    assert await nothing_applied(world)
