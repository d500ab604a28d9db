"""Monthly payouts computed in the database, held to the rules row by row.

Each scenario changes one fact of `december_world` (张秀英, grade 5, entitled from
2026-12-01, a provider with an agreement, a home-care plan), adds a family caregiver and the
visits or stays it needs, computes the month's draft with the set-based SQL, and compares
every line with (a) the figures worked out by hand in the table and (b) the same rules in
plain Python (ltc.payouts.rules with entitlements.rules for active days). Then: adjustments
after a late death report, the maker-checker and database guards, concurrency, export and
reconciliation with failed payments carried forward.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_user
from support.cases import FrozenClock, user_actor
from test_visits import REQUIRED, december_world

from ltc import clock, db, documents
from ltc.agreements import rules as agreement_rules
from ltc.agreements.tables import Agreement
from ltc.enrollment.tables import HospitalStay
from ltc.entitlements import rules as entitlement_rules
from ltc.entitlements import service as entitlements
from ltc.entitlements.tables import Entitlement
from ltc.errors import Conflict, Forbidden, InvalidInput
from ltc.payouts import rules, service
from ltc.payouts.queries import treated_visits
from ltc.payouts.tables import DepositEntry, Payment, PayoutBatch, PayoutLine
from ltc.visits.tables import InstitutionalStay, Visit

pytestmark = pytest.mark.anyio

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


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_a_months_lines_follow_the_rules(database_url, monkeypatch, scenario) -> None:
    world = await build(monkeypatch, scenario)
    batch = await computed(monkeypatch, scenario.month, world.staff.clerk)
    lines = await lines_of(batch["id"])
    assert set(lines) == set(scenario.expected)
    by_rules = await reference(world, scenario.month)
    for benefit, figures in scenario.expected.items():
        line = lines[benefit]
        assert {k: line[k] for k in figures} == figures, benefit
        assert {k: line[k] for k in by_rules[benefit]} == by_rules[benefit], benefit
        assert line["net_fen"] == line["gross_fen"] - line["withheld_fen"]
        assert line["days_in_month"] == clock.month_last(scenario.month).day
    assert batch["net_fen"] == sum(line["net_fen"] for line in lines.values())


async def test_each_visit_is_listed_with_its_reason(database_url, monkeypatch) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "visits flagged, rejected and in hospital")
    world = await build(monkeypatch, scenario)
    batch = await computed(monkeypatch, scenario.month, world.staff.clerk)
    line = (await lines_of(batch["id"]))["home_visit"]
    treated = (await treated_visits([line]))[line["id"]]
    assert [(t["on"].day, t["counted"], t["reason"]) for t in treated] == [
        (2, True, ""), (5, False, rules.EXCLUSIONS["flagged"]),
        (9, False, rules.EXCLUSIONS["rejected"]), (21, False, rules.EXCLUSIONS["inactive_day"]),
        (23, True, "")]
    # Reviewing a visit later changes the facts, not what this batch decided.
    await Visit.update({Visit.review: "accepted_after_review"}).where(
        Visit.visit_on == date(2026, 12, 5))
    assert (await treated_visits([line]))[line["id"]] == treated
    explained = " ".join(rules.explain(line, 500))
    for words in ("计费上门2次", "不计费3次", "质量保证金8.00元"):
        assert words in explained


# --- maker-checker, adjustments, guards -------------------------------------------------------

async def reviewer(name: str = "checker"):
    return await user_actor((await make_user("reviewer", username=name))["id"])


async def approved(batch: dict[str, Any], clerk, checker) -> dict[str, Any]:
    batch = await service.submit(clerk, batch["id"], batch["version"])
    return await service.approve(checker, batch["id"], batch["version"])


async def test_a_late_death_report_is_an_adjustment_in_the_next_batch(database_url,
                                                                       monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    december = await approved(december, world.staff.clerk, await reviewer())
    original = (await lines_of(december["id"]))["family_subsidy"]
    assert original["gross_fen"] == 45000
    # On 5 January the insurance system reports a death on 16 December.
    FrozenClock(monkeypatch, date(2027, 1, 5))
    await entitlements.end_for_person(world.staff.clerk, world.case.person_id,
                                      date(2026, 12, 16), "deceased", "event test-1",
                                      clock.today())
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    lines = await lines_of(january["id"])
    assert set(lines) == {"adjustment:family_subsidy"}  # nothing for January itself
    adjustment = lines["adjustment:family_subsidy"]
    assert adjustment["service_month"] == date(2026, 12, 1)
    assert adjustment["adjusts"] == original["id"]
    assert (adjustment["gross_fen"], adjustment["days"], adjustment["previous_gross_fen"],
            adjustment["previous_days"]) == (23226 - 45000, 16, 45000, 31)
    assert "扣回217.74元" in " ".join(rules.explain(adjustment, 500))
    # The approved December line is untouched, and recomputing January changes nothing.
    assert (await lines_of(december["id"]))["family_subsidy"] == original
    again = await service.compute(january["id"])
    assert (await lines_of(again["id"]))["adjustment:family_subsidy"]["gross_fen"] == -21774


async def test_a_visit_rejected_after_approval_is_taken_back(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, Scenario("three visits", caregiver=None, visits=(
        (2, "accepted"), (5, "accepted"), (9, "accepted"))))
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    december = await approved(december, world.staff.clerk, await reviewer())
    original = (await lines_of(december["id"]))["home_visit"]
    assert (original["visits_counted"], original["net_fen"]) == (3, 22800)
    FrozenClock(monkeypatch, date(2027, 1, 6))
    await Visit.update({Visit.review: "rejected", Visit.reviewed_at: clock.now()}).where(
        Visit.visit_on == date(2026, 12, 5))
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    adjustment = (await lines_of(january["id"]))["adjustment:home_visit"]
    assert (adjustment["gross_fen"], adjustment["withheld_fen"], adjustment["net_fen"],
            adjustment["visits_counted"], adjustment["previous_visits"],
            adjustment["adjusts"]) == (-8000, -400, -7600, 2, 3, original["id"])


async def test_the_submitter_cannot_approve(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    batch = await service.submit(world.staff.clerk, batch["id"], batch["version"])
    with pytest.raises(Forbidden) as refused:
        await service.approve(world.staff.clerk, batch["id"], batch["version"])
    assert refused.value.code == "forbidden"  # a clerk is no reviewer at all
    # A reviewer who submitted (an admin's mistake in roles) is refused by the service …
    checker = await reviewer()
    await PayoutBatch.update({PayoutBatch.submitted_by: checker.id}).where(
        PayoutBatch.id == batch["id"])
    with pytest.raises(Forbidden) as refused:
        await service.approve(checker, batch["id"], batch["version"])
    assert refused.value.code == "same_person"
    # … and by the database, whatever the code does.
    with pytest.raises(Exception, match=r"approver|four_eyes|CHECK|constraint"):
        await PayoutBatch.update({PayoutBatch.approved_by: checker.id}).where(
            PayoutBatch.id == batch["id"])
    assert (await PayoutBatch.select().where(PayoutBatch.id == batch["id"]).first())[
        "state"] == "SUBMITTED"


async def test_the_database_allows_one_batch_a_month_and_frozen_lines(database_url,
                                                                       monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    with pytest.raises(Conflict) as refused:
        await service.create_batch(world.staff.clerk, "370983", date(2026, 12, 1))
    assert refused.value.code == "batch_exists"
    with pytest.raises(db.UNIQUE_VIOLATIONS):
        await PayoutBatch(number="JSX", region_path="370983", month=date(2026, 12, 1),
                          state="DRAFT", policy_version=batch["policy_version"]).save()
    line = (await lines_of(batch["id"]))["family_subsidy"]
    with pytest.raises(db.UNIQUE_VIOLATIONS):  # a second line for the same payee and benefit
        await PayoutLine.raw(
            "INSERT INTO payout_line (batch, kind, benefit, service_month, payee_key, "
            "payee_name, person, region_path, gross_fen, net_fen, policy_version) "
            "SELECT batch, kind, benefit, service_month, payee_key, payee_name, person, "
            "region_path, 1, 1, policy_version FROM payout_line WHERE id = {}", line["id"])
    with pytest.raises(Exception, match=r"never change|only while"):
        await PayoutLine.update({PayoutLine.gross_fen: 1}).where(PayoutLine.id == line["id"])
    await approved(batch, world.staff.clerk, await reviewer())
    with pytest.raises(Exception, match="only while"):
        await PayoutLine.delete().where(PayoutLine.id == line["id"])
    assert (await lines_of(batch["id"]))["family_subsidy"] == line


async def test_months_go_in_order(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    FrozenClock(monkeypatch, date(2027, 2, 3))
    with pytest.raises(Conflict) as refused:
        await service.create_batch(world.staff.clerk, "370983", date(2027, 1, 1))
    assert refused.value.code == "previous_batch_open"
    with pytest.raises(InvalidInput) as refused:
        await service.create_batch(world.staff.clerk, "370983", date(2027, 2, 1))
    assert refused.value.code == "month_not_over"


# --- concurrency ------------------------------------------------------------------------------

async def test_two_reviewers_approving_at_once_make_one_approval(database_url,
                                                                 monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    batch = await service.submit(world.staff.clerk, batch["id"], batch["version"])
    first, second = await reviewer("reviewer1"), await reviewer("reviewer2")
    results = await asyncio.gather(
        service.approve(first, batch["id"], batch["version"]),
        service.approve(second, batch["id"], batch["version"]), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "dict"]
    assert await DepositEntry.count().where(DepositEntry.batch == batch["id"]) == 0  # subsidy only
    row = await PayoutBatch.select().where(PayoutBatch.id == batch["id"]).first()
    assert row["state"] == "APPROVED" and row["approved_by"] in (first.id, second.id)


async def test_two_computations_at_once_give_one_consistent_result(database_url,
                                                                   monkeypatch) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "over-quota visits")
    world = await build(monkeypatch, scenario)
    await _caregiver(world, date(2026, 1, 1), date(2028, 12, 31))
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    alone = await lines_of(batch["id"])
    results = await asyncio.gather(service.compute(batch["id"]), service.compute(batch["id"]))
    assert all(r is not None for r in results)
    together = await lines_of(batch["id"])
    strip = lambda lines: {k: {c: v for c, v in row.items() if c != "id"}  # noqa: E731
                           for k, row in lines.items()}
    assert strip(together) == strip(alone)
    assert len(rules.treatments(together["home_visit"]["visit_treatments"])) == 6


def hanging_computation(database_url: str, batch_id: int, marker: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SUPPORT / "compute_and_hang.py"),
                             database_url, str(batch_id), str(marker)], cwd=ROOT)


async def test_a_computation_killed_mid_way_leaves_the_previous_draft(database_url, tmp_path,
                                                                      monkeypatch) -> None:
    """A worker killed (kill -9) inside the computation's transaction, after it deleted the
    draft's lines: nothing it did commits, so the draft keeps its previous lines (never half
    of them); the job's next delivery computes it cleanly."""
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    before = await lines_of(batch["id"])
    await add_visit(world, date(2026, 12, 7))
    marker = tmp_path / "hanging"
    worker = hanging_computation(database_url, batch["id"], marker)
    try:
        for _ in range(600):
            if marker.exists() or worker.poll() is not None:
                break
            await asyncio.sleep(0.05)
        assert marker.exists(), "the computation never reached its hanging point"
    finally:
        worker.kill()
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    assert await lines_of(batch["id"]) == before
    again = await lines_of((await service.compute(batch["id"]))["id"])
    assert set(again) == {"family_subsidy", "home_visit"}
    assert again["home_visit"]["visits_counted"] == 1


# --- export and reconciliation ----------------------------------------------------------------

async def exported(monkeypatch, provider_account: str = "6217000000000000002",
                   ) -> tuple[Any, dict[str, Any]]:
    """December approved and exported: a caregiver (450.00) and the provider (304.00)."""
    scenario = next(s for s in SCENARIOS if s.name == "over-quota visits")
    world = await build(monkeypatch, scenario)
    await _caregiver(world, date(2026, 1, 1), date(2028, 12, 31))
    await Agreement.update({Agreement.bank_name: "建设银行",
                            Agreement.bank_account: provider_account}).where(
        Agreement.kind == "provider")
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    batch = await approved(batch, world.staff.clerk, await reviewer())
    return world, await service.export(world.staff.clerk, batch["id"], batch["version"])


def bank_result(*rows: tuple[str, str, str]) -> bytes:
    return ("payment_reference,status,reason\n" + "".join(
        f"{r},{s},{why}\n" for r, s, why in rows)).encode()


async def test_export_makes_one_payment_per_payee_and_the_bank_file(database_url,
                                                                    monkeypatch) -> None:
    world, batch = await exported(monkeypatch)
    payments = await Payment.select().where(Payment.batch == batch["id"]).order_by(
        Payment.reference)
    assert [(p["reference"], p["payee_key"], p["amount_fen"], p["status"]) for p in payments] == [
        ("JS370983202612-000001", f"cg:{CAREGIVER_ID}", 45000, "pending"),
        ("JS370983202612-000002", f"org:{world.organisation_id}", 30400, "pending")]
    assert payments[0]["bank_account"] == "6228480000000000001"
    text = documents.path_for(batch["bank_file_sha256"], suffix=".csv").read_text("utf-8")
    assert "JS370983202612-000001,李明,农业银行,6228480000000000001,450.00," in text
    assert "JS370983202612-000002,新城街道社区卫生服务中心" in text
    deposit = await DepositEntry.select().where(DepositEntry.batch == batch["id"])
    assert [(d["organisation"], d["kind"], d["amount_fen"]) for d in deposit] == [
        (world.organisation_id, "withheld", 1600)]
    with pytest.raises(Conflict):  # exported once: references are never made twice
        await service.export(world.staff.clerk, batch["id"], batch["version"])


async def test_reconciliation_carries_failed_payments_and_ignores_a_second_import(
        database_url, monkeypatch) -> None:
    world, batch = await exported(monkeypatch)
    clerk = world.staff.clerk
    file = bank_result(("JS370983202612-000001", "failed", "账户已销户"),
                       ("JS370983202612-000002", "paid", ""))
    # A file naming a payment of no batch of ours is refused whole.
    with pytest.raises(InvalidInput) as refused:
        await service.reconcile(clerk, batch["id"], file + b"JS999-000001,paid,\n")
    assert "不属于本批次" in refused.value.message
    assert await Payment.count().where(Payment.status == "pending") == 2
    answer = await service.reconcile(clerk, batch["id"], file)
    assert (answer["paid"], answer["failed"], answer["batch"]["state"]) == (1, 1, "RECONCILED")
    again = await service.reconcile(clerk, batch["id"], file)
    assert again["already_imported"] and again["paid"] == again["failed"] == 0
    # A different file contradicting the first is refused.
    with pytest.raises(InvalidInput) as refused:
        await service.reconcile(clerk, batch["id"], bank_result(
            ("JS370983202612-000001", "paid", "")))
    assert "已对账为“支付失败”" in refused.value.message
    # January's draft pays the failed caregiver again, once, besides January's own lines.
    january = await computed(monkeypatch, date(2027, 1, 1), clerk)
    lines = await lines_of(january["id"])
    carried = lines["carry_forward:family_subsidy"]
    assert (carried["service_month"], carried["net_fen"], carried["withheld_fen"]) == (
        date(2026, 12, 1), 45000, 0)
    assert "family_subsidy" in lines  # January's own subsidy
    january = await service.compute(january["id"])
    assert "carry_forward:family_subsidy" in await lines_of(january["id"])
    january = await approved(january, clerk, await reviewer("checker2"))
    FrozenClock(monkeypatch, date(2027, 3, 3))
    january = await service.export(clerk, january["id"], january["version"])
    await service.reconcile(clerk, january["id"], bank_result(*(
        (p["reference"], "paid", "") for p in await Payment.select(Payment.reference).where(
            Payment.batch == january["id"]))))
    february = await computed(monkeypatch, date(2027, 2, 1), clerk)
    assert "carry_forward:family_subsidy" not in await lines_of(february["id"])


async def test_a_payee_without_a_bank_account_is_paid_once_it_has_one(database_url,
                                                                     monkeypatch) -> None:
    world, batch = await exported(monkeypatch, provider_account="")
    payments = {p["payee_key"]: p for p in await Payment.select().where(
        Payment.batch == batch["id"])}
    provider = payments[f"org:{world.organisation_id}"]
    assert (provider["status"], provider["failure_reason"]) == ("unpayable", rules.NO_ACCOUNT)
    text = documents.path_for(batch["bank_file_sha256"], suffix=".csv").read_text("utf-8")
    assert provider["reference"] not in text and "李明" in text
    with pytest.raises(InvalidInput) as refused:  # never sent, so never in a bank result
        await service.reconcile(world.staff.clerk, batch["id"],
                                bank_result((provider["reference"], "paid", "")))
    assert "未发送银行" in refused.value.message
    await service.reconcile(world.staff.clerk, batch["id"], bank_result(
        (payments[f"cg:{CAREGIVER_ID}"]["reference"], "paid", "")))
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    carried = (await lines_of(january["id"]))["carry_forward:home_visit"]
    assert (carried["net_fen"], carried["carried_payment"]) == (30400, provider["id"])


async def test_months_are_paid_in_order_without_gaps(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    await approved(december, world.staff.clerk, await reviewer())
    FrozenClock(monkeypatch, date(2027, 3, 2))
    with pytest.raises(Conflict) as refused:  # January first
        await service.create_batch(world.staff.clerk, "370983", date(2027, 2, 1))
    assert refused.value.code == "month_order" and "请先编制2027年1月" in refused.value.message
    # The scheduler on 1 March makes the month that is due next: January.
    assert await service.prepare_previous_month(date(2027, 3, 1)) == ["JS370983202701"]


# --- facts that arrive late, and where they belong --------------------------------------------

async def test_a_late_hospital_stay_after_death_is_adjusted(database_url, monkeypatch) -> None:
    """The entitlement had already ended (death on 20 December) when a hospital stay of
    5–15 December is reported: no entitlement history is written, the audit trail is."""
    from ltc.enrollment import events
    from ltc.people.tables import Person

    world = await build(monkeypatch, Scenario("died", entitlement={
        "ends_on": date(2026, 12, 20), "end_reason": "deceased"}))
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    await approved(december, world.staff.clerk, await reviewer())
    assert (await lines_of(december["id"]))["family_subsidy"]["gross_fen"] == 29032  # 20 days
    FrozenClock(monkeypatch, date(2027, 1, 8))
    person = await Person.select().where(Person.id == world.case.person_id).first()
    async with db.write_transaction():
        await events.apply(world.staff.clerk, "hospital_admitted", person, date(2026, 12, 5),
                           "event late-1")
        await events.apply(world.staff.clerk, "hospital_discharged", person,
                           date(2026, 12, 16), "event late-2")
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    adjustment = (await lines_of(january["id"]))["adjustment:family_subsidy"]
    assert (adjustment["days"], adjustment["gross_fen"]) == (9, 13065 - 29032)  # 20 − 11 days


async def test_a_visit_moved_to_the_next_month_is_paid_once(database_url, monkeypatch) -> None:
    from ltc.visits import logging as visits
    from ltc.visits import review as reviews

    world = await build(monkeypatch, Scenario("late visit", caregiver=None))
    FrozenClock(monkeypatch, date(2026, 12, 31))
    logged, _ = await visits.log_visit(world.nurse, client_uuid=str(uuid.uuid4()),
                                       person_id=world.case.person_id,
                                       started_at=datetime(2026, 12, 30, 9, tzinfo=clock.CHINA),
                                       ended_at=datetime(2026, 12, 30, 10, tzinfo=clock.CHINA),
                                       items=REQUIRED, family_confirmed_by="李明",
                                       confirmation_code="4821")
    assert logged["review"] == "accepted", logged["flags"]
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    await approved(december, world.staff.clerk, await reviewer())
    assert (await lines_of(december["id"]))["home_visit"]["visits_counted"] == 1
    FrozenClock(monkeypatch, date(2027, 1, 3))  # the visit really was on 2 January
    await reviews.revise_visit(world.nurse, logged["id"], "wrong_time", "日期填错",
                               started_at=datetime(2027, 1, 2, 9, tzinfo=clock.CHINA),
                               ended_at=datetime(2027, 1, 2, 10, tzinfo=clock.CHINA))
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    lines = await lines_of(january["id"])
    assert lines["home_visit"]["visits_counted"] == 1  # paid in January …
    assert lines["adjustment:home_visit"]["gross_fen"] == -8000  # … and taken back for December


async def test_a_visit_logged_under_another_region_still_counts(database_url,
                                                                monkeypatch) -> None:
    world = await build(monkeypatch, Scenario("moved", caregiver=None))
    visit_id = await add_visit(world, date(2026, 12, 4))
    await Visit.update({Visit.region_path: "370982/370982001"}).where(Visit.id == visit_id)
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    assert (await lines_of(batch["id"]))["home_visit"]["visits_counted"] == 1


async def test_only_a_provider_agreement_for_home_visits_pays_visits(database_url,
                                                                     monkeypatch) -> None:
    world = await build(monkeypatch, Scenario("beds only", caregiver=None,
                                              visits=((4, "accepted"),)))
    await Agreement.update({Agreement.home_visits: False, Agreement.institutional_beds: 10}).where(
        Agreement.kind == "provider")
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    line = (await lines_of(batch["id"]))["home_visit"]
    assert (line["visits_counted"], line["visits_excluded"], line["gross_fen"]) == (0, 1, 0)
    assert [reason for _, reason in rules.treatments(line["visit_treatments"])] == [
        "no_provider_agreement"]


async def test_two_releases_at_once_never_overdraw_the_deposit(database_url,
                                                               monkeypatch) -> None:
    world, _ = await exported(monkeypatch)
    checker = await reviewer("checker2")
    assert await service.deposit_balance(world.organisation_id) == 1600
    results = await asyncio.gather(*(
        service.settle_deposit(checker, world.organisation_id, "released", 1600, "年度考核合格")
        for _ in range(2)), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["InvalidInput", "int"]
    assert await service.deposit_balance(world.organisation_id) == 0


async def test_no_family_subsidy_for_days_in_a_care_institution(database_url,
                                                                monkeypatch) -> None:
    scenario = Scenario("moved into a home", stay=(date(2026, 12, 21), None),
                        hospital=(date(2026, 12, 25), date(2026, 12, 27)))
    world = await build(monkeypatch, scenario)
    lines = await lines_of((await computed(monkeypatch, date(2026, 12, 1),
                                           world.staff.clerk))["id"])
    # 1–20 December at home; 21–31 in the institution, 25–26 of those in hospital.
    assert (lines["family_subsidy"]["days"], lines["institutional"]["days"]) == (20, 9)


async def test_a_caregiver_agreement_renewed_at_another_rate_is_priced_by_segment(
        database_url, monkeypatch) -> None:
    world = await build(monkeypatch, Scenario("renewed", caregiver=(date(2026, 1, 1),
                                                                     date(2026, 12, 15))))
    renewed = await _caregiver(world, date(2026, 12, 16), date(2028, 12, 31))
    await Agreement.update({Agreement.family_subsidy_fen: 60000}).where(Agreement.id == renewed)
    line = (await lines_of((await computed(monkeypatch, date(2026, 12, 1),
                                           world.staff.clerk))["id"]))["family_subsidy"]
    # (15 × 450 + 16 × 600) ÷ 31 = 527.419… → 527.42, one line for the one caregiver.
    assert (line["days"], line["gross_fen"], line["rate_fen"]) == (31, 52742, 0)
    assert "各段协议的月标准 × 31 ÷ 31" in " ".join(rules.explain(line, 500))
