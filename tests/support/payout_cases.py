"""Shared by test_payouts.py and test_payout_export.py: set-up and helpers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from conftest import make_user
from test_visits import december_world

from ltc import clock
from ltc.agreements import rules as agreement_rules
from ltc.agreements.tables import Agreement
from ltc.enrollment.tables import HospitalStay
from ltc.entitlements import rules as entitlement_rules
from ltc.entitlements import service as entitlements
from ltc.entitlements.tables import Entitlement
from ltc.payouts import rules, service
from ltc.payouts.tables import PayoutLine
from ltc.visits.tables import InstitutionalStay, Visit
from support.cases import FrozenClock, user_actor

SUPPORT = Path(__file__).parents[1] / "support"
ROOT = Path(__file__).parents[2]
CAREGIVER_ID = "370983195001010012"
SUBSIDY, VISIT_RATE, BED_RATE_5 = 45000, 8000, 7000  # feicheng.json, grade 5


@dataclass(frozen=True)
class Scenario:
    name: str
    month: date = date(2026, 12, 1)
    entitlement: dict[str, Any] = field(default_factory=dict)  # column changes
    caregiver: tuple[date, date] | None = (date(2026, 1, 1), date(2028, 12, 31))
    caregiver_state: tuple[str, date | None] = ("ACTIVE", None)
    provider_state: tuple[str, date | None] = ("ACTIVE", None)
    hospital: tuple[date, date | None] | None = None
    visits: tuple[tuple[int, str], ...] = ()  # (day of month, review)
    stay: tuple[date, date | None] | None = None
    expected: dict[str, dict[str, int]] = field(default_factory=dict)  # benefit → figures


SCENARIOS = [
    Scenario("a full month", expected={
        "family_subsidy": {"days": 31, "gross_fen": 45000, "withheld_fen": 0}}),
    Scenario("a mid-month start", entitlement={"starts_on": date(2026, 12, 11)}, expected={
        "family_subsidy": {"days": 21, "gross_fen": 30484}}),  # 45000 × 21 ÷ 31 = 30483.87
    Scenario("a hospital stay spanning the month end",
             hospital=(date(2026, 12, 25), date(2027, 1, 5)), expected={
                 "family_subsidy": {"days": 24, "gross_fen": 34839}}),  # 25–31 Dec suspended
    Scenario("a death mid-month", entitlement={"ends_on": date(2026, 12, 16)}, expected={
        "family_subsidy": {"days": 16, "gross_fen": 23226}}),  # 23225.81
    Scenario("over-quota visits", caregiver=None,
             visits=tuple((day, "accepted") for day in (2, 5, 9, 12, 19, 23)), expected={
                 "home_visit": {"visits_counted": 4, "visits_excluded": 2, "gross_fen": 32000,
                                "withheld_fen": 1600, "net_fen": 30400}}),
    Scenario("visits flagged, rejected and in hospital", caregiver=None,
             hospital=(date(2026, 12, 20), date(2026, 12, 22)),
             visits=((2, "accepted"), (5, "flagged"), (9, "rejected"), (21, "accepted"),
                     (23, "accepted_after_review")), expected={
                 "home_visit": {"visits_counted": 2, "visits_excluded": 3, "gross_fen": 16000,
                                "withheld_fen": 800}}),
    Scenario("a caregiver agreement that ends mid-month",
             caregiver=(date(2026, 1, 1), date(2026, 12, 20)), expected={
                 "family_subsidy": {"days": 20, "gross_fen": 29032}}),  # 29032.26
    Scenario("a caregiver agreement terminated mid-month",
             caregiver_state=("TERMINATED", date(2026, 12, 11)), expected={
                 "family_subsidy": {"days": 10, "gross_fen": 14516}}),  # 14516.13
    Scenario("a visit by a provider whose agreement lapsed", caregiver=None,
             provider_state=("SUSPENDED", date(2026, 12, 15)),
             visits=((3, "accepted"), (10, "accepted"), (20, "accepted")), expected={
                 "home_visit": {"visits_counted": 2, "visits_excluded": 1, "gross_fen": 16000,
                                "withheld_fen": 800, "net_fen": 15200}}),
    Scenario("February of a leap year", month=date(2028, 2, 1),
             caregiver=(date(2026, 1, 1), date(2028, 2, 14)), expected={
                 "family_subsidy": {"days": 14, "days_in_month": 29,
                                    "gross_fen": 21724}}),  # 45000 × 14 ÷ 29 = 21724.14
    Scenario("institutional care with a discharge mid-month", caregiver=None,
             stay=(date(2026, 11, 20), date(2026, 12, 20)), expected={
                 "institutional": {"days": 19, "gross_fen": 133000, "withheld_fen": 6650,
                                   "net_fen": 126350}}),  # 1–19 Dec × 70 元
    Scenario("institutional care, a hospital stay inside it", caregiver=None,
             stay=(date(2026, 12, 10), None), hospital=(date(2026, 12, 15), date(2026, 12, 18)),
             expected={"institutional": {"days": 19, "gross_fen": 133000}}),  # 22 − 3 days
]


# --- building a scenario ----------------------------------------------------------------------

async def _caregiver(world, starts_on: date, ends_on: date, state: str = "ACTIVE",
                     changed_on: date | None = None) -> int:
    row = Agreement(number=f"XYCG{uuid.uuid4().hex[:8]}", kind="caregiver",
                    region_path="370983", beneficiary=world.case.person_id,
                    caregiver_name="李明", caregiver_resident_id=CAREGIVER_ID,
                    caregiver_phone="13800000000", relationship="子女", bank_name="农业银行",
                    bank_account="6228480000000000001", starts_on=starts_on, ends_on=ends_on,
                    state=state, state_changed_on=changed_on)
    await row.save()
    return row.id


async def add_visit(world, day: date, review: str = "accepted") -> int:
    started = datetime.combine(day, time(9), clock.CHINA)
    row = Visit(client_uuid=uuid.uuid4(), person=world.case.person_id,
                entitlement=world.entitlement_id, care_plan=world.plan_id,
                provider=world.organisation_id, staff=world.nurse.id,
                region_path=await _region(world), service_type="home_visit", visit_on=day,
                started_at=started, ended_at=started + timedelta(minutes=45),
                items=json.dumps(["B01"]), review=review)
    await row.save()
    return row.id


async def _region(world) -> str:
    row = await Entitlement.select(Entitlement.region_path).where(
        Entitlement.id == world.entitlement_id).first()
    return row["region_path"]


async def build(monkeypatch, scenario: Scenario):
    world = await december_world(monkeypatch)
    if scenario.entitlement:
        await Entitlement.update(scenario.entitlement).where(
            Entitlement.id == world.entitlement_id)
    if scenario.caregiver:
        await _caregiver(world, *scenario.caregiver, *scenario.caregiver_state)
    if scenario.provider_state[0] != "ACTIVE":
        await Agreement.update({Agreement.state: scenario.provider_state[0],
                                Agreement.state_changed_on: scenario.provider_state[1]}).where(
            (Agreement.kind == "provider") & (Agreement.organisation == world.organisation_id))
    if scenario.hospital:
        await HospitalStay(person=world.case.person_id, admitted_on=scenario.hospital[0],
                           discharged_on=scenario.hospital[1]).save()
    for day, review in scenario.visits:
        await add_visit(world, scenario.month.replace(day=day), review)
    if scenario.stay:
        await Agreement.update({Agreement.institutional_beds: 20}).where(
            (Agreement.kind == "provider") & (Agreement.organisation == world.organisation_id))
        await InstitutionalStay(person=world.case.person_id, entitlement=world.entitlement_id,
                                institution=world.organisation_id, region_path=await _region(world),
                                admitted_on=scenario.stay[0], discharged_on=scenario.stay[1],
                                recorded_by=world.staff.clerk.id).save()
    return world


async def computed(monkeypatch, month: date, clerk) -> dict[str, Any]:
    FrozenClock(monkeypatch, clock.month_last(month) + timedelta(days=2))
    batch = await service.create_batch(clerk, "370983", month)
    return await service.compute(batch["id"])


async def lines_of(batch_id: int) -> dict[str, dict[str, Any]]:
    rows = await PayoutLine.select().where(PayoutLine.batch == batch_id)
    return {(row["benefit"] if row["kind"] == "regular" else f"{row['kind']}:{row['benefit']}"):
            row for row in rows}


# --- the same rules in plain Python ----------------------------------------------------------

async def reference(world, month: date) -> dict[str, dict[str, int]]:
    """What ltc.payouts.rules says, from the rows, one day at a time."""
    entitlement = await Entitlement.select().where(Entitlement.id == world.entitlement_id).first()
    facts = await entitlements.facts_of(entitlement)
    days = clock.days_of(month)
    active = [d for d in days if entitlement_rules.is_active_day(facts, d)]
    agreements = await Agreement.select().where(Agreement.region_path == "370983")
    provider = [a for a in agreements if a["kind"] == "provider"]
    result: dict[str, dict[str, int]] = {}
    for caregiver in (a for a in agreements if a["kind"] == "caregiver"):
        covered = sum(1 for d in active if agreement_rules.covers(caregiver, d))
        if covered:
            result["family_subsidy"] = {
                "days": covered, "gross_fen": rules.subsidy_fen(SUBSIDY, covered, len(days))}
    visits = await Visit.select().where(Visit.person == world.case.person_id)
    if visits:
        treated = rules.classify_visits((rules.VisitFacts(
            v["id"], v["started_at"], v["review"], v["visit_on"] in active,
            any(agreement_rules.covers(a, v["visit_on"]) for a in provider)) for v in visits),
            quota=4)
        counted = sum(1 for reason in treated.values() if not reason)
        gross = counted * VISIT_RATE
        result["home_visit"] = {"visits_counted": counted,
                                "visits_excluded": len(treated) - counted,
                                "gross_fen": gross, "withheld_fen": rules.withheld_fen(gross, 500)}
    for stay in await InstitutionalStay.select():
        beds = sum(1 for d in active if d >= stay["admitted_on"]
                   and (stay["discharged_on"] is None or d < stay["discharged_on"]))
        gross = beds * BED_RATE_5
        result["institutional"] = {"days": beds, "gross_fen": gross,
                                   "withheld_fen": rules.withheld_fen(gross, 500)}
    return result


async def reviewer(name: str = "checker"):
    return await user_actor((await make_user("reviewer", username=name))["id"])


async def approved(batch: dict[str, Any], clerk, checker) -> dict[str, Any]:
    batch = await service.submit(clerk, batch["id"], batch["version"])
    return await service.approve(checker, batch["id"], batch["version"])


