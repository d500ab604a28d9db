"""Monthly payouts after approval: export (one payment per payee, the bank file), reconciliation
with failed payments carried forward, and facts that arrive late (adjustments) or belong
elsewhere (a moved visit, another region, institutional care, renewed rates)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from support.cases import FrozenClock
from support.payout_cases import (
    CAREGIVER_ID,
    SCENARIOS,
    Scenario,
    _caregiver,
    add_visit,
    approved,
    build,
    computed,
    lines_of,
    reviewer,
)
from test_visits import REQUIRED

from ltc import clock, db, documents
from ltc.agreements.tables import Agreement
from ltc.errors import Conflict, InvalidInput
from ltc.payouts import rules, service
from ltc.payouts.tables import DepositEntry, Payment
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio


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
    return world, await service.export(world.staff.clerk, batch["id"], batch["version"],
                                       confirm_missing_accounts=not provider_account)


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
                                       confirmation_code="482113")
    assert logged["review"] == "accepted", logged["flags"]
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    await approved(december, world.staff.clerk, await reviewer())
    assert (await lines_of(december["id"]))["home_visit"]["visits_counted"] == 1
    FrozenClock(monkeypatch, date(2027, 1, 3))  # the visit really was on 2 January
    await reviews.revise_visit(world.nurse, logged["id"], "wrong_time", "日期填错",
                               started_at=datetime(2027, 1, 2, 9, tzinfo=clock.CHINA),
                               ended_at=datetime(2027, 1, 2, 10, tzinfo=clock.CHINA),
                               confirmation_code="482113")  # new times: the family again
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
