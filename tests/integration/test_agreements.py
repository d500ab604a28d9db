"""Agreements through the service and the pages: drafting each kind (every problem at once,
nothing written), roles, stale versions, the state machine, the daily expiry and reminder,
who is covered on a day, the agreement document, and the clerk's pages."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import STANDING_AGREEMENT, make_user, sign_in
from stdnum.cn import ric
from support.cases import (
    Case,
    FrozenClock,
    Staff,
    assert_bureau_contact,
    clear_bureau_contact,
    entitled_case,
    make_staff,
    user_actor,
)

from ltc import documents
from ltc.agreements import service
from ltc.agreements.jobs import render_agreement_document
from ltc.agreements.tables import Agreement
from ltc.audit.tables import AuditEvent
from ltc.db import StaleWrite
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import Actor
from ltc.jobs.tables import OutboxMessage
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person

pytestmark = pytest.mark.anyio

TODAY = date(2026, 11, 20)
STARTS, ENDS = date(2026, 12, 1), date(2027, 11, 30)
DAY = timedelta(days=1)
CAREGIVER_ID = "37098319750505002"
CAREGIVER_ID += ric.calc_check_digit(CAREGIVER_ID + "0")


@dataclass
class World:
    clock: FrozenClock
    staff: Staff
    clerk: Actor
    nurse: dict[str, Any]  # a provider-role user of T-P
    provider: int  # organisation T-P
    assessment: int  # organisation T-A
    case: Case
    entitlement_id: int


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    clock = FrozenClock(monkeypatch, TODAY)
    staff = await make_staff(assessors=2)
    nurse = await make_user("provider", username="nurse1")
    case, entitlement_id = await entitled_case(staff, decided_on=date(2026, 11, 28),
                                               name="张秀英")
    # The draw needed T-A's standing test agreement (make_user); from here on these tests
    # sign, list and count T-A's agreements themselves.
    await Agreement.delete().where(Agreement.number.like(STANDING_AGREEMENT + "%"))
    codes = {o["code"]: o["id"] for o in await Organisation.select(Organisation.id,
                                                                    Organisation.code)}
    return World(clock, staff, staff.clerk, nurse, codes["T-P"], codes["T-A"], case,
                 entitlement_id)


PROVIDER_ACCOUNT = {"account_source": "entered", "bank_name": "中国建设银行肥城支行",
                    "bank_account_name": "测试机构", "bank_account": "6217000000000000002"}


def fields(world: World, kind: str, **changes: Any) -> dict[str, Any]:
    """Good fields of an agreement of `kind`, with `changes`."""
    party: dict[str, Any] = {
        "assessment": {"organisation": world.assessment},
        "provider": {"organisation": world.provider, "home_visits": True,
                     "institutional_beds": 20, "visit_rate_fen": 8500,
                     "bed_day_rates": {5: 7500}, **PROVIDER_ACCOUNT},
        "staff": {"organisation": world.provider, "staff": world.nurse["id"],
                  "qualification": "nurse"},
        "caregiver": {"beneficiary": world.case.person_id, "caregiver_name": "李明",
                      "caregiver_resident_id": CAREGIVER_ID, "caregiver_phone": "13900000000",
                      "relationship": "子女", "bank_name": "中国农业银行肥城市支行",
                      "bank_account": "6228480012345678901", "trained_on": TODAY - 10 * DAY,
                      "family_subsidy_fen": None},
    }[kind]
    return {**party, "starts_on": STARTS, "ends_on": ENDS, **changes}


async def draft(world: World, kind: str, **changes: Any) -> dict[str, Any]:
    return await service.create_agreement(world.clerk, kind, **fields(world, kind, **changes))


async def active(world: World, kind: str, **changes: Any) -> dict[str, Any]:
    row = await draft(world, kind, **changes)
    return await service.activate(world.clerk, row["id"], row["version"])


async def row_of(agreement_id: int) -> dict[str, Any]:
    return await Agreement.select().where(Agreement.id == agreement_id).first()


async def events(action: str) -> int:
    return await AuditEvent.count().where(AuditEvent.action == action)


# --- drafting ---------------------------------------------------------------------------------

async def test_a_clerk_drafts_each_kind(world) -> None:
    rows = {kind: await draft(world, kind)
            for kind in ("assessment", "provider", "staff", "caregiver")}
    assert [r["number"] for r in rows.values()] == [
        f"XY20261120000{n}" for n in (1, 2, 3, 4)]
    assert {r["state"] for r in rows.values()} == {"DRAFT"}
    provider = await row_of(rows["provider"]["id"])
    assert (provider["visit_rate_fen"], provider["bed_day_rates"]) == (8500, '{"5": 7500}')
    assert provider["region_path"] == "370983"
    caregiver = await row_of(rows["caregiver"]["id"])
    assert caregiver["region_path"].startswith("370983/370983001/")
    assert caregiver["caregiver_resident_id"] == CAREGIVER_ID
    staff = await row_of(rows["staff"]["id"])
    assert (staff["staff"], staff["organisation"], staff["qualification"]) == (
        world.nurse["id"], world.provider, "nurse")
    assert await events("agreement.created") == 4


async def test_a_forms_text_is_read_like_typed_values(world) -> None:
    row = await service.create_agreement(
        world.clerk, "provider", organisation=str(world.provider), home_visits="true",
        institutional_beds="", visit_rate_fen="82.50",
        bed_day_rates={3: "", 4: "", 5: ""}, starts_on="2026-12-01", ends_on="2027-11-30",
        **PROVIDER_ACCOUNT)
    stored = await row_of(row["id"])
    assert (stored["visit_rate_fen"], stored["institutional_beds"], stored["bed_day_rates"],
            stored["starts_on"]) == (8250, 0, "{}", STARTS)


@pytest.mark.parametrize(("kind", "changes", "problems"), [
    ("assessment", {"organisation": None, "starts_on": None, "ends_on": None},
     {"organisation", "starts_on", "ends_on"}),
    ("provider", {"organisation": "assessment", "home_visits": False,
                  "institutional_beds": 0, "visit_rate_fen": -1, "ends_on": STARTS - DAY},
     {"organisation", "scope", "visit_rate_fen", "ends_on"}),
    ("staff", {"staff": "clerk", "qualification": ""}, {"staff", "qualification"}),
    ("caregiver", {"beneficiary": "other", "caregiver_name": "", "caregiver_resident_id": "1",
                   "caregiver_phone": "", "relationship": "", "bank_name": "",
                   "bank_account": "12", "trained_on": TODAY + DAY},
     {"beneficiary", "caregiver_name", "caregiver_resident_id", "caregiver_phone",
      "relationship", "bank_name", "bank_account", "trained_on"}),
])
async def test_every_problem_at_once_and_nothing_written(world, kind, changes,
                                                         problems) -> None:
    stand_ins = {"assessment": world.assessment, "clerk": world.clerk.id,
                 "other": (await make_user("clerk", username="c2"))["id"] + 10_000}
    changes = {k: stand_ins.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}
    audit_before = await AuditEvent.count()
    with pytest.raises(InvalidInput) as refused:
        await draft(world, kind, **changes)
    assert set(refused.value.fields) == problems, refused.value.fields
    assert await Agreement.count() == 0
    assert await AuditEvent.count() == audit_before
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == "agreements.render_document") == 0


async def test_a_beneficiary_without_a_running_entitlement_has_no_caregiver_agreement(
        world) -> None:
    other = await make_user("clerk", username="clerk2")  # not a person at all
    with pytest.raises(InvalidInput) as refused:
        await draft(world, "caregiver", beneficiary=other["id"] + 999)
    assert "请选择被照护的待遇享受人员" in refused.value.fields["beneficiary"]


async def test_an_unknown_kind_is_refused(world) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.create_agreement(world.clerk, "doctor")
    assert set(refused.value.fields) == {"kind"}


async def test_only_clerks_draft_and_change_agreements(world) -> None:
    nurse = await user_actor(world.nurse["id"])
    for actor in (nurse, world.staff.reviewer):
        with pytest.raises(Forbidden):
            await service.create_agreement(actor, "assessment", **fields(world, "assessment"))
    row = await draft(world, "assessment")
    with pytest.raises(Forbidden):
        await service.activate(world.staff.reviewer, row["id"], row["version"])
    with pytest.raises(Forbidden):
        await service.list_agreements(nurse)
    assert (await row_of(row["id"]))["state"] == "DRAFT"


async def test_a_stale_version_changes_nothing(world) -> None:
    row = await draft(world, "provider")
    await service.activate(world.clerk, row["id"], row["version"])
    with pytest.raises(StaleWrite):  # the page was loaded before the activation
        await service.suspend(world.clerk, row["id"], row["version"], reason="整改",
                              from_day=TODAY)
    assert (await row_of(row["id"]))["state"] == "ACTIVE"


async def test_a_clerk_of_another_region_does_not_see_it(world) -> None:
    row = await draft(world, "caregiver")
    user = await make_user("clerk", username="laocheng", region="370983002")
    other = await user_actor(user["id"])
    with pytest.raises(NotFound):
        await service.get_agreement(other, row["id"])
    with pytest.raises(NotFound):
        await service.activate(other, row["id"], row["version"])
    assert await service.list_agreements(other) == []


# --- the state machine ------------------------------------------------------------------------

async def test_activate_suspend_resume_terminate(world) -> None:
    row = await draft(world, "provider")
    row = await service.activate(world.clerk, row["id"], row["version"])
    assert row["state"] == "ACTIVE"
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == "agreements.render_document") == 1

    with pytest.raises(InvalidInput) as refused:
        await service.suspend(world.clerk, row["id"], row["version"], reason=" ",
                              from_day=ENDS + DAY)
    assert set(refused.value.fields) == {"reason", "from_day"}
    row = await service.suspend(world.clerk, row["id"], row["version"], reason="服务质量整改",
                                from_day=date(2027, 3, 1))
    assert (row["state"], row["state_changed_on"], row["state_reason"]) == (
        "SUSPENDED", date(2027, 3, 1), "服务质量整改")

    row = await service.resume(world.clerk, row["id"], row["version"], reason="整改完成")
    assert (row["state"], row["state_changed_on"]) == ("ACTIVE", None)

    with pytest.raises(InvalidInput) as refused:
        await service.terminate(world.clerk, row["id"], row["version"], reason="",
                                from_day=None)
    assert set(refused.value.fields) == {"reason", "from_day"}
    row = await service.terminate(world.clerk, row["id"], row["version"], reason="机构停业",
                                  from_day=date(2027, 6, 1))
    assert (row["state"], row["state_changed_on"]) == ("TERMINATED", date(2027, 6, 1))
    timeline = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.object_type == "agreement").order_by(AuditEvent.seq)]
    assert timeline == ["agreement.created", "agreement.activated", "agreement.suspended",
                        "agreement.resumed", "agreement.terminated"]


@pytest.mark.parametrize(("path", "call"), [
    (("DRAFT",), "resume"), (("DRAFT",), "suspend"),
    (("ACTIVE",), "activate"), (("ACTIVE",), "resume"),
    (("SUSPENDED",), "suspend"), (("SUSPENDED",), "activate"),
    (("TERMINATED",), "activate"), (("TERMINATED",), "resume"), (("TERMINATED",), "suspend"),
    (("TERMINATED",), "terminate"),
])
async def test_illegal_transitions_are_refused(world, path, call) -> None:
    row = await draft(world, "assessment")
    if path[0] != "DRAFT":
        if path[0] == "TERMINATED":
            row = await service.terminate(world.clerk, row["id"], row["version"],
                                          reason="录入有误", from_day=None)
        else:
            row = await service.activate(world.clerk, row["id"], row["version"])
        if path[0] == "SUSPENDED":
            row = await service.suspend(world.clerk, row["id"], row["version"], reason="整改",
                                        from_day=STARTS)
    arguments = {"suspend": {"reason": "r", "from_day": STARTS},
                 "terminate": {"reason": "r", "from_day": STARTS}}.get(call, {})
    with pytest.raises(Conflict) as refused:
        await getattr(service, call)(world.clerk, row["id"], row["version"], **arguments)
    assert refused.value.code == "wrong_state"
    assert (await row_of(row["id"]))["version"] == row["version"]


async def test_a_terminated_draft_covers_nothing(world) -> None:
    row = await draft(world, "assessment")
    row = await service.terminate(world.clerk, row["id"], row["version"], reason="录入有误",
                                  from_day=ENDS)
    assert row["state_changed_on"] == STARTS
    assert await service.active_agreement("assessment", on=STARTS,
                                          organisation=world.assessment) is None


async def test_one_agreement_per_party_at_a_time(world) -> None:
    first = await active(world, "provider")
    second = await draft(world, "provider", starts_on=date(2027, 6, 1), ends_on=date(2028, 5, 31))
    with pytest.raises(Conflict) as refused:
        await service.activate(world.clerk, second["id"], second["version"])
    assert refused.value.code == "agreement_overlap" and first["number"] in refused.value.message
    await service.terminate(world.clerk, first["id"], first["version"], reason="改签新协议",
                            from_day=date(2027, 6, 1))
    assert (await service.activate(world.clerk, second["id"], second["version"]))[
        "state"] == "ACTIVE"
    # The old one now cannot be revived over the new one's days (it is final anyway), and a
    # suspended one cannot be resumed over an agreement signed for its suspended days.
    staff_one = await active(world, "staff")
    staff_one = await service.suspend(world.clerk, staff_one["id"], staff_one["version"],
                                      reason="调岗", from_day=date(2027, 1, 1))
    await active(world, "staff", starts_on=date(2027, 1, 1), qualification="care_worker")
    with pytest.raises(Conflict):
        await service.resume(world.clerk, staff_one["id"], staff_one["version"])


async def test_an_assessment_organisation_is_not_also_a_care_provider(world) -> None:
    # T-A assesses from December; it was registered as a provider before and its provider
    # agreement from the previous year runs into December (drafted while it was a provider).
    await Organisation.update({Organisation.kind: "provider"}).where(
        Organisation.id == world.assessment)
    provider = await draft(world, "provider", organisation=world.assessment,
                           starts_on=TODAY, ends_on=STARTS)
    await Organisation.update({Organisation.kind: "assessment"}).where(
        Organisation.id == world.assessment)
    assessment = await draft(world, "assessment")
    provider = await service.activate(world.clerk, provider["id"], provider["version"])
    activations = await events("agreement.activated")
    with pytest.raises(Conflict) as refused:
        await service.activate(world.clerk, assessment["id"], assessment["version"])
    assert refused.value.code == "agreement_separation_conflict"
    assert provider["number"] in refused.value.message
    assert "护理服务机构" in refused.value.message and "2026-12-01" in refused.value.message
    assert (await row_of(assessment["id"]))["state"] == "DRAFT"
    assert await events("agreement.activated") == activations
    # Once the provider agreement stops the day before, the periods no longer meet.
    await service.terminate(world.clerk, provider["id"], provider["version"],
                            reason="转为评估机构", from_day=STARTS)
    assert (await service.activate(world.clerk, assessment["id"], assessment["version"]))[
        "state"] == "ACTIVE"


async def test_a_resumed_agreement_is_checked_for_separation_too(world) -> None:
    assessment = await active(world, "assessment")
    assessment = await service.suspend(world.clerk, assessment["id"], assessment["version"],
                                       reason="整改", from_day=STARTS)
    await Organisation.update({Organisation.kind: "provider"}).where(
        Organisation.id == world.assessment)
    await active(world, "provider", organisation=world.assessment)
    with pytest.raises(Conflict) as refused:
        await service.resume(world.clerk, assessment["id"], assessment["version"])
    assert refused.value.code == "agreement_separation_conflict"
    assert (await row_of(assessment["id"]))["state"] == "SUSPENDED"


async def test_an_agreement_past_its_end_cannot_be_activated(world) -> None:
    row = await draft(world, "assessment", starts_on=TODAY - 30 * DAY, ends_on=TODAY)
    world.clock.set(TODAY + DAY)
    with pytest.raises(Conflict) as refused:
        await service.activate(world.clerk, row["id"], row["version"])
    assert refused.value.code == "agreement_ended"


# --- the daily pass ---------------------------------------------------------------------------

async def test_daily_expires_with_catch_up_and_only_once(world) -> None:
    ends_early = await active(world, "assessment", starts_on=TODAY, ends_on=TODAY + 5 * DAY)
    ends_later = await active(world, "provider", starts_on=TODAY, ends_on=TODAY + 8 * DAY)
    suspended = await active(world, "staff", starts_on=TODAY, ends_on=TODAY + 3 * DAY)
    await service.suspend(world.clerk, suspended["id"], suspended["version"], reason="停工",
                          from_day=TODAY + 2 * DAY)
    keeps = await active(world, "caregiver")

    # The scheduler was down: ten days later one pass expires all three.
    later = TODAY + 10 * DAY
    world.clock.set(later)
    counts = await service.daily(later)
    assert counts["expired"] == 3
    assert {(await row_of(r["id"]))["state"] for r in (ends_early, ends_later, suspended)} == {
        "EXPIRED"}
    assert (await row_of(keeps["id"]))["state"] == "ACTIVE"
    assert (await service.daily(later))["expired"] == 0
    assert (await service.daily(later + DAY))["expired"] == 0
    assert await events("agreement.expired") == 3

    # An expired agreement answers for its days; the suspended one only before its suspension.
    assert await service.active_agreement("assessment", on=TODAY + 5 * DAY,
                                          organisation=world.assessment) is not None
    assert await service.active_agreement("assessment", on=TODAY + 6 * DAY,
                                          organisation=world.assessment) is None
    nurse = world.nurse["id"]
    assert await service.staff_qualification(nurse, TODAY + DAY) == "nurse"
    assert await service.staff_qualification(nurse, TODAY + 2 * DAY) is None


async def test_an_agreement_does_not_expire_on_its_last_day(world) -> None:
    row = await active(world, "assessment", starts_on=TODAY, ends_on=TODAY + DAY)
    assert (await service.daily(TODAY + DAY))["expired"] == 0
    assert (await row_of(row["id"]))["state"] == "ACTIVE"
    assert (await service.daily(TODAY + 2 * DAY))["expired"] == 1


async def test_the_expiry_reminder_is_recorded_exactly_once(world) -> None:
    due = await active(world, "assessment", starts_on=TODAY, ends_on=TODAY + 30 * DAY)
    not_yet = await active(world, "provider", starts_on=TODAY, ends_on=TODAY + 31 * DAY)
    await draft(world, "staff", starts_on=TODAY, ends_on=TODAY + 5 * DAY)  # drafts: no
    assert (await service.daily(TODAY))["reminded"] == 1
    assert (await row_of(due["id"]))["reminded_on"] == TODAY
    assert (await row_of(not_yet["id"]))["reminded_on"] is None
    assert await service.expiring_soon_count(world.clerk) == 1

    world.clock.set(TODAY + DAY)
    assert (await service.daily(TODAY + DAY))["reminded"] == 1  # the other one, now due
    assert (await service.daily(TODAY + DAY))["reminded"] == 0
    assert (await service.daily(TODAY + 2 * DAY))["reminded"] == 0
    assert await events("agreement.expiry_reminder") == 2
    assert (await row_of(due["id"]))["reminded_on"] == TODAY
    assert await service.expiring_soon_count(world.clerk) == 2


# --- who is covered on a day ------------------------------------------------------------------

async def test_active_agreement_for_each_kind_of_party(world) -> None:
    provider = await active(world, "provider")
    assessment = await active(world, "assessment")
    staff = await active(world, "staff")
    caregiver = await active(world, "caregiver")
    day = date(2027, 2, 1)
    found = {
        "provider": await service.active_agreement("provider", on=day,
                                                   organisation=world.provider),
        "assessment": await service.active_agreement("assessment", on=day,
                                                     organisation=world.assessment),
        "staff": await service.active_agreement("staff", on=day, staff=world.nurse["id"]),
        "caregiver": await service.active_agreement("caregiver", on=day,
                                                    beneficiary=world.case.person_id),
    }
    assert {kind: row["id"] for kind, row in found.items()} == {
        "provider": provider["id"], "assessment": assessment["id"], "staff": staff["id"],
        "caregiver": caregiver["id"]}
    # Staff of one provider only when asked with that provider.
    assert await service.active_agreement("staff", on=day, staff=world.nurse["id"],
                                          organisation=world.provider) is not None
    assert await service.active_agreement("staff", on=day, staff=world.nurse["id"],
                                          organisation=world.assessment) is None
    # Outside the period, or the wrong kind for the party: nothing.
    assert await service.active_agreement("provider", on=STARTS - DAY,
                                          organisation=world.provider) is None
    assert await service.active_agreement("provider", on=ENDS + DAY,
                                          organisation=world.provider) is None
    assert await service.active_agreement("assessment", on=day,
                                          organisation=world.provider) is None
    with pytest.raises(ValueError):
        await service.active_agreement("provider", on=day)


async def test_a_suspended_or_terminated_agreement_covers_the_days_before_only(world) -> None:
    provider = await active(world, "provider")
    caregiver = await active(world, "caregiver")
    assert await service.active_agreement("caregiver", on=STARTS,
                                          beneficiary=world.case.person_id) is not None
    suspended_from, terminated_from = date(2027, 3, 1), date(2027, 4, 15)
    await service.suspend(world.clerk, provider["id"], provider["version"], reason="整改",
                          from_day=suspended_from)
    await service.terminate(world.clerk, caregiver["id"], caregiver["version"],
                            reason="照护者外出务工", from_day=terminated_from)

    async def provider_on(day: date) -> dict | None:
        return await service.active_agreement("provider", on=day, organisation=world.provider)

    async def caregiver_on(day: date) -> dict | None:
        return await service.active_agreement("caregiver", on=day,
                                              beneficiary=world.case.person_id)

    assert await provider_on(suspended_from - DAY) is not None
    assert await provider_on(suspended_from) is None
    assert await caregiver_on(terminated_from - DAY) is not None
    assert await caregiver_on(terminated_from) is None
    # Terminating a suspended agreement later does not revive the suspended days.
    row = await row_of(provider["id"])
    await service.terminate(world.clerk, provider["id"], row["version"], reason="未整改",
                            from_day=date(2027, 5, 1))
    assert (await row_of(provider["id"]))["state_changed_on"] == suspended_from
    assert await provider_on(date(2027, 4, 1)) is None


async def test_a_draft_covers_nothing(world) -> None:
    await draft(world, "caregiver")
    assert await service.active_agreement("caregiver", on=STARTS,
                                          beneficiary=world.case.person_id) is None
    assert await service.staff_qualification(world.nurse["id"], STARTS) is None


# --- reading ----------------------------------------------------------------------------------

async def test_list_filters_search_and_keyset_paging(world) -> None:
    provider = await active(world, "provider")
    await draft(world, "assessment")
    caregiver = await draft(world, "caregiver")
    rows = await service.list_agreements(world.clerk)
    assert [r["kind"] for r in rows] == ["provider", "assessment", "caregiver"]
    assert rows[2]["party"] == "李明（照护 张秀英）" and rows[0]["state_label"] == "生效"
    assert [r["id"] for r in await service.list_agreements(world.clerk, state="ACTIVE")] == [
        provider["id"]]
    assert [r["id"] for r in await service.list_agreements(world.clerk, kind="caregiver")] == [
        caregiver["id"]]
    for term in ("张秀", "zxy", "李明", provider["number"], "测试机构T-P"):
        found = await service.list_agreements(world.clerk, search=term)
        assert found, term
    assert [r["id"] for r in await service.list_agreements(world.clerk, search="zxy")] == [
        caregiver["id"]]
    assert (await row_of(caregiver["id"]))["caregiver_initials"] == "lm"
    person = await Person.select().where(Person.id == world.case.person_id).first()
    town = person["region_path"].rsplit("/", 1)[0]
    for term, within in (("lm", None), ("LM", None), (person["phone"], None),
                         (person["resident_id"], None), (person["resident_id"][-4:], town)):
        found = await service.list_agreements(world.clerk, search=term, within=within)
        assert [r["id"] for r in found] == [caregiver["id"]], term
    # Four digits alone are ambiguous: without a town they are only an ID or phone prefix.
    assert not await service.list_agreements(world.clerk, search=person["resident_id"][-4:])
    assert not await service.list_agreements(world.clerk, search="张秀", within=town + "9")
    first = await service.list_agreements(world.clerk, limit=2)
    rest = await service.list_agreements(world.clerk, limit=2, after_id=first[-1]["id"])
    assert [r["id"] for r in first + rest] == [r["id"] for r in rows]


# --- the document -----------------------------------------------------------------------------

def pdf_text(path) -> str:
    """pdftotext's text without whitespace (Chinese lines wrap anywhere). Sync: a
    subprocess does not belong in an async function."""
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                            timeout=60)
    return "".join(result.stdout.decode().split())


@pytest.mark.parametrize("kind", ["provider", "caregiver"])
async def test_the_agreement_document_renders_once(world, kind, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    row = await active(world, kind)
    sha256 = await render_agreement_document(row["id"])
    assert (await row_of(row["id"]))["document_sha256"] == sha256
    text = pdf_text(documents.path_for(sha256, tmp_path / "media"))
    party = "测试机构T-P" if kind == "provider" else "李明"
    for expected in (row["number"], party, "肥城市医疗保障局", "2026年12月1日", "2027年11月30日"):
        assert expected in text, expected
    assert_bureau_contact(text, printed=True)  # the pooling region's, as in 地区管理
    if kind == "provider":
        assert "¥85.00/次" in text and "¥75.00/床日" in text and "（政策标准）" in text
    else:
        assert "¥450.00/月" in text and "张秀英" in text and CAREGIVER_ID not in text
    # Rendered again (a second delivery of the job): the same bytes, nothing recorded again.
    assert await render_agreement_document(row["id"]) == sha256
    assert await events("agreement.document_rendered") == 1


async def test_without_the_bureau_contact_an_agreement_prints_no_contact_line(
        world, tmp_path, monkeypatch) -> None:
    """An agreement may be signed before the region's first notice, so before the bureau's
    contact is set (the shipped data has none): the agreement and its supplement are still
    produced, naming the bureau, with no contact line rather than an empty or invented one."""
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    await clear_bureau_contact()
    row = await active(world, "provider")
    amended = await service.amend(world.clerk, row["id"], row["version"],
                                  effective_from=date(2027, 3, 1), reason="调整上门单价",
                                  visit_rate_fen=9500)
    for agreement_id in (row["id"], amended["id"]):
        sha256 = await render_agreement_document(agreement_id)
        text = pdf_text(documents.path_for(sha256, tmp_path / "media"))
        assert "甲方（盖章）：肥城市医疗保障局" in text
        assert_bureau_contact(text, printed=False)


# --- the pages --------------------------------------------------------------------------------

async def test_a_clerk_creates_and_activates_an_agreement_through_the_pages(
        client, monkeypatch, tmp_path) -> None:
    FrozenClock(monkeypatch, TODAY)
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    await make_user("clerk")
    await make_user("provider", username="nurse1")  # creates the provider T-P
    provider = (await Organisation.select(Organisation.id).where(
        Organisation.code == "T-P").first())["id"]
    await sign_in(client, "clerk")
    csrf = client.cookies.get("ltc_csrf")

    chooser = await client.get("/agreements/new")
    assert chooser.status_code == 200 and "护理服务机构" in chooser.text
    form = await client.get("/agreements/new?kind=provider")
    assert "测试机构T-P" in form.text and "政策标准 ¥80.00" in form.text

    bad = await client.post("/agreements", data={
        "_csrf_token": csrf, "kind": "provider", "organisation": "", "institutional_beds": "0",
        "visit_rate_fen": "八十", "starts_on": "2026-12-01", "ends_on": "2026-11-01"})
    assert bad.status_code == 422
    for problem in ("请选择您管辖范围内的护理服务机构", "请至少选择一项服务范围",
                    "请填写金额（元）", "结束日期不能早于开始日期"):
        assert problem in bad.text, problem
    assert await Agreement.count() == 0

    created = await client.post("/agreements", data={
        "_csrf_token": csrf, "kind": "provider", "organisation": str(provider),
        "home_visits": "true", "institutional_beds": "0", "visit_rate_fen": "",
        "bed_day_rate_5": "", "starts_on": "2026-12-01", "ends_on": "2027-11-30",
        **PROVIDER_ACCOUNT}, follow_redirects=False)
    assert created.status_code in (302, 303), created.text
    row = await Agreement.select().first()
    assert created.headers["location"] == f"/agreements/{row['id']}"
    page = await client.get(f"/agreements/{row['id']}")
    assert row["number"] in page.text and "草稿" in page.text and "协议生效" in page.text

    activated = await client.post(f"/agreements/{row['id']}/activate", data={
        "_csrf_token": csrf, "version": str(row["version"])})
    assert activated.status_code == 200 and "协议已生效" in activated.text
    assert (await row_of(row["id"]))["state"] == "ACTIVE"
    assert "协议文本正在生成" in activated.text
    missing = await client.get(f"/agreements/{row['id']}/document.pdf")
    assert missing.status_code == 404

    stale = await client.post(f"/agreements/{row['id']}/suspend", data={
        "_csrf_token": csrf, "version": str(row["version"]), "from_day": "2027-01-01",
        "reason": "整改"})
    assert stale.status_code == 409 and "协议刚被其他人或系统修改" in stale.text
    no_reason = await client.post(f"/agreements/{row['id']}/suspend", data={
        "_csrf_token": csrf, "version": str(row["version"] + 1), "from_day": "2027-01-01"})
    assert no_reason.status_code == 422 and "请填写暂停原因" in no_reason.text

    listing = await client.get("/agreements?kind=provider&state=ACTIVE")
    assert row["number"] in listing.text and "测试机构T-P" in listing.text
    assert row["number"] not in (await client.get("/agreements?expiring=true")).text

    await render_agreement_document(row["id"])
    document = await client.get(f"/agreements/{row['id']}/document.pdf")
    assert document.status_code == 200 and document.content.startswith(b"%PDF")

    # An amendment from the page: problems next to their fields, then the new version.
    amend = {"_csrf_token": csrf, "version": str(row["version"] + 1), "home_visits": "true",
             "institutional_beds": "0", "visit_rate_fen": "95.00", "account_source": "keep",
             "ends_on": "2027-11-30", "effective_from": "2027-03-01"}
    bad = await client.post(f"/agreements/{row['id']}/amend", data=amend)
    assert bad.status_code == 422 and "请填写变更原因" in bad.text
    amended = await client.post(f"/agreements/{row['id']}/amend",
                                data={**amend, "reason": "调整单价"}, follow_redirects=False)
    assert amended.status_code in (302, 303), amended.text
    new = await Agreement.select().where(Agreement.root == row["id"]).first()
    assert amended.headers["location"] == f"/agreements/{new['id']}"
    shown = await client.get(f"/agreements/{new['id']}")
    assert "协议版本" in shown.text and "调整单价" in shown.text and "¥95.00/次" in shown.text
    row = new  # suspend and terminate the version in force

    suspended = await client.post(f"/agreements/{row['id']}/suspend", data={
        "_csrf_token": csrf, "version": str(row["version"]), "from_day": "2027-04-01",
        "reason": "服务质量整改"})
    assert suspended.status_code == 200 and "协议已暂停" in suspended.text
    assert "恢复协议" in suspended.text and "服务质量整改" in suspended.text
    version = (await row_of(row["id"]))["version"]
    terminated = await client.post(f"/agreements/{row['id']}/terminate", data={
        "_csrf_token": csrf, "version": str(version), "from_day": "2027-05-01",
        "reason": "机构停业"})
    assert terminated.status_code == 200 and "协议已终止" in terminated.text
    assert "恢复协议" not in terminated.text
    for step in ("起草协议", "协议生效", "生成协议文本", "暂停协议", "终止协议"):
        assert step in terminated.text, step  # the timeline
    assert (await row_of(row["id"]))["state_changed_on"] == date(2027, 4, 1)
    unknown = await client.post(f"/agreements/{row['id']}/revive", data={
        "_csrf_token": csrf, "version": "9"})
    assert unknown.status_code == 404


async def test_the_caregiver_form_finds_entitled_people(client, world) -> None:
    await sign_in(client, "clerk")
    found = await client.get("/agreements/new?kind=caregiver&q=zxy")
    assert found.status_code == 200 and "张秀英" in found.text
    assert world.case.resident_id not in found.text  # masked
    staff_form = await client.get(f"/agreements/new?kind=staff&organisation={world.provider}")
    assert "nurse1" in staff_form.text


REGISTER_ACCOUNT = {Organisation.bank_name: "中国工商银行肥城支行",
                    Organisation.bank_account_name: "测试机构T-P",
                    Organisation.bank_account_no: "6222000000000000777"}


async def test_the_form_shows_a_register_account_masked_and_only_of_a_provider_in_region(
        client, world) -> None:
    """The register's account is shown by its last four digits (the full number is for
    admins, audited) and confirmed as shown; a provider of another region, or an
    organisation of another kind, is not found and nothing of it is shown."""
    await Organisation.update(REGISTER_ACCOUNT).where(Organisation.id == world.provider)
    await sign_in(client, "clerk")
    form = await client.get(f"/agreements/new?kind=provider&organisation={world.provider}")
    assert form.status_code == 200 and "中国工商银行肥城支行" in form.text
    assert "***0777" in form.text and "6222000000000000777" not in form.text
    shown = re.search(r'name="confirmed_account" value="([^"]*)"', form.text).group(1)
    created = await client.post("/agreements", data={
        "_csrf_token": client.cookies.get("ltc_csrf"), "kind": "provider",
        "organisation": str(world.provider), "home_visits": "true", "institutional_beds": "0",
        "account_source": "register", "confirmed_account": shown,
        "starts_on": STARTS.isoformat(), "ends_on": ENDS.isoformat()}, follow_redirects=False)
    assert created.status_code in (302, 303), created.text
    row = await Agreement.select().first()
    assert (row["account_source"], row["bank_account"]) == ("register", "6222000000000000777")
    await service.activate(world.clerk, row["id"], row["version"])
    page = await client.get(f"/agreements/{row['id']}")  # the amendment form offers it too
    assert "***0777" in page.text and "6222000000000000777" not in page.text

    await make_user("clerk", username="townclerk", region="370983001")  # T-P: the city's
    await sign_in(client, "townclerk")
    for url in (f"/agreements/new?kind=provider&organisation={world.provider}",
                f"/agreements/new?kind=staff&organisation={world.provider}"):
        refused = await client.get(url)
        assert refused.status_code == 404, url
        assert "0777" not in refused.text and "nurse1" not in refused.text
    await sign_in(client, "clerk")
    other_kind = await client.get(f"/agreements/new?kind=provider&organisation={world.assessment}")
    assert other_kind.status_code == 404


async def test_a_caregivers_account_is_left_blank_on_the_amendment_form(client, world) -> None:
    """The amendment form does not show the caregiver's account number; left blank, the
    account stays as it is."""
    row = await active(world, "caregiver")
    await sign_in(client, "clerk")
    page = await client.get(f"/agreements/{row['id']}")
    assert "6228480012345678901" not in page.text and "尾号 8901" in page.text
    amended = await client.post(f"/agreements/{row['id']}/amend", data={
        "_csrf_token": client.cookies.get("ltc_csrf"), "version": str(row["version"]),
        "effective_from": "2027-03-01", "caregiver_phone": "13900000001",
        "bank_name": row["bank_name"], "bank_account": "", "family_subsidy_fen": "",
        "ends_on": ENDS.isoformat(), "reason": "照护者更换电话"}, follow_redirects=False)
    assert amended.status_code in (302, 303), amended.text
    new = await Agreement.select().where(Agreement.root == row["id"]).first()
    assert (new["caregiver_phone"], new["bank_account"]) == ("13900000001",
                                                             "6228480012345678901")


async def test_a_refused_amendment_shows_the_rates_typed(client, world) -> None:
    row = await active(world, "provider")
    await sign_in(client, "clerk")
    refused = await client.post(f"/agreements/{row['id']}/amend", data={
        "_csrf_token": client.cookies.get("ltc_csrf"), "version": str(row["version"]),
        "effective_from": "2027-03-01", "home_visits": "true", "institutional_beds": "30",
        "visit_rate_fen": "95.50", "bed_day_rate_4": "66.60", "bed_day_rate_5": "",
        "account_source": "keep", "ends_on": ENDS.isoformat(), "reason": ""})
    assert refused.status_code == 422 and "请填写变更原因" in refused.text
    for name, typed in (("institutional_beds", "30"), ("visit_rate_fen", "95.50"),
                        ("bed_day_rate_4", "66.60"), ("bed_day_rate_5", "")):
        assert f'name="{name}" type="text" value="{typed}"' in refused.text, name


async def test_a_provider_user_cannot_reach_agreements(client) -> None:
    await make_user("provider", username="nurse1")
    await sign_in(client, "nurse1")
    assert (await client.get("/agreements")).status_code == 403
    assert (await client.get("/agreements/new?kind=provider")).status_code == 403


# --- payee accounts and amendments ------------------------------------------------------------

async def test_a_provider_confirms_the_register_account_which_is_copied(world) -> None:
    register = {Organisation.bank_name: "中国工商银行肥城支行",
                Organisation.bank_account_name: "测试机构T-P",
                Organisation.bank_account_no: "6222000000000000777"}
    account = {"account_source": "register", "bank_name": "", "bank_account_name": "",
               "bank_account": ""}
    with pytest.raises(InvalidInput) as refused:  # the register has no account yet
        await draft(world, "provider", **account, confirmed_account="")
    assert "没有收款账户" in refused.value.fields["account_source"]
    await Organisation.update(register).where(Organisation.id == world.provider)
    with pytest.raises(InvalidInput) as refused:  # the form showed another account
        await draft(world, "provider", **account, confirmed_account="6222000000000000111")
    assert "已变更" in refused.value.fields["account_source"]
    row = await draft(world, "provider", **account, confirmed_account="6222000000000000777")
    stored = await row_of(row["id"])
    assert (stored["account_source"], stored["bank_name"], stored["bank_account_name"],
            stored["bank_account"]) == ("register", "中国工商银行肥城支行", "测试机构T-P",
                                        "6222000000000000777")
    # A later change in the register does not redirect this agreement's money.
    await Organisation.update({Organisation.bank_account_no: "6222000000000000999"}).where(
        Organisation.id == world.provider)
    assert (await row_of(row["id"]))["bank_account"] == "6222000000000000777"


@pytest.mark.parametrize(("ends_on", "allowed"), [(date(2031, 11, 30), True),
                                                (date(2031, 12, 1), False)])
async def test_amendments_do_not_restart_the_period_limit(world, ends_on, allowed) -> None:
    """Five years from the first version's start (1 December 2026), however many
    amendments later."""
    first = await active(world, "provider")
    second = await service.amend(world.clerk, first["id"], first["version"],
                                 effective_from=date(2027, 6, 1), reason="延长期限",
                                 ends_on=date(2029, 11, 30))
    extend = service.amend(world.clerk, second["id"], second["version"],
                           effective_from=date(2027, 9, 1), reason="再次延长", ends_on=ends_on)
    if allowed:
        assert (await extend)["ends_on"] == ends_on
        return
    with pytest.raises(InvalidInput) as refused:
        await extend
    assert refused.value.fields["ends_on"] == "协议期限不能超过5年，请核对结束日期的年份"


async def test_an_amendment_is_a_new_version_with_history_and_a_supplement(
        world, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    first = await active(world, "provider")
    with pytest.raises(InvalidInput) as refused:  # every problem at once, nothing written
        await service.amend(world.clerk, first["id"], first["version"],
                            effective_from=STARTS, reason="", ends_on=STARTS - DAY)
    assert set(refused.value.fields) == {"effective_from", "ends_on", "reason"}
    assert (await row_of(first["id"]))["state"] == "ACTIVE"
    with pytest.raises(InvalidInput) as refused:
        await service.amend(world.clerk, first["id"], first["version"],
                            effective_from=date(2027, 3, 1), reason="无变化")
    assert set(refused.value.fields) == {"changes"}

    second = await service.amend(world.clerk, first["id"], first["version"],
                                 effective_from=date(2027, 3, 1), reason="调整上门单价",
                                 visit_rate_fen=9500, ends_on=date(2028, 2, 29))
    assert second["number"] == "BC" + first["number"][2:] + "-1"
    old = await row_of(first["id"])
    assert (old["state"], old["state_changed_on"]) == ("AMENDED", date(2027, 3, 1))
    assert (second["visit_rate_fen"], second["bank_account"], second["root"]) == (
        9500, "6217000000000000002", first["id"])
    for day, agreement_id in ((date(2027, 2, 28), first["id"]),
                              (date(2027, 3, 1), second["id"])):
        assert (await service.active_agreement("provider", on=day,
                                               organisation=world.provider))["id"] == agreement_id
    with pytest.raises(Conflict):  # the amended version is final
        await service.amend(world.clerk, first["id"], old["version"],
                            effective_from=date(2027, 4, 1), reason="再次", visit_rate_fen=1)
    third = await service.amend(world.clerk, second["id"], second["version"],
                                effective_from=date(2027, 6, 1), reason="更换收款账户",
                                account_source="entered", bank_name="中国银行肥城支行",
                                bank_account_name="测试机构T-P", bank_account="6013821234567890")
    shown = await service.get_agreement(world.clerk, third["id"])
    assert [(v["amendment_no"], v["state"], v["cover"]) for v in shown["versions"]] == [
        (0, "AMENDED", (STARTS, date(2027, 2, 28))),
        (1, "AMENDED", (date(2027, 3, 1), date(2027, 5, 31))),
        (2, "ACTIVE", (date(2027, 6, 1), date(2028, 2, 29)))]

    sha256 = await render_agreement_document(third["id"])
    text = pdf_text(documents.path_for(sha256, tmp_path / "media"))
    for expected in ("补充协议", third["number"], first["number"], second["number"],
                     "银行账号", "尾号0002", "尾号7890", "开户银行", "中国银行肥城支行",
                     "更换收款账户", "2027年6月1日", "第2次变更"):
        assert expected in text, expected
    assert_bureau_contact(text, printed=True)
    assert "6013821234567890" not in text
    assert await render_agreement_document(third["id"]) == sha256
    assert await AuditEvent.count().where(
        (AuditEvent.action == "agreement.amendment_signed")
        & (AuditEvent.object_id == str(third["id"]))) == 1
