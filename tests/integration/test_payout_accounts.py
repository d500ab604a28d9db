"""Payees that can be paid and money papers that tell the truth (issue 14): an agreement
amended mid-month prices each part of the month by its own terms; a payee without a bank
account is named before export, left out of the bank file only when the clerk confirms, and
shown as unpaid, with the reason, on the batch page, the summary and the statements — whose
bank totals are the bank file's, to the fen."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import date
from typing import Any

import pytest
from conftest import sign_in
from support.cases import user_actor
from support.payout_cases import (
    CAREGIVER_ID,
    SCENARIOS,
    Scenario,
    _caregiver,
    approved,
    build,
    computed,
    lines_of,
    reviewer,
)

from ltc import documents
from ltc.accounts.tables import User
from ltc.agreements import service as agreements
from ltc.agreements.tables import Agreement
from ltc.payouts import queries, rules, service, statements
from ltc.payouts.tables import Payment, PayoutDocument

pytestmark = pytest.mark.anyio

# (benefit, the amendment's effective day in December 2026, gross for December). The old
# terms: 450.00 a month, 80.00 a visit, 70.00 a bed-day (grade 5); the new: 600.00, 100.00,
# 90.00. Visits on 1, 15, 16 and 31 December (all within the quota of 4); a bed every day.
AMENDMENTS = [
    ("family_subsidy", 1, 60000),   # 600 × 31 ÷ 31
    ("family_subsidy", 16, 52742),  # (450 × 15 + 600 × 16) ÷ 31 = 527.419…
    ("family_subsidy", 31, 45484),  # (450 × 30 + 600 × 1) ÷ 31 = 454.838…
    ("home_visit", 1, 40000),       # 4 × 100
    ("home_visit", 16, 36000),      # 2 × 80 + 2 × 100
    ("home_visit", 31, 34000),      # 3 × 80 + 1 × 100
    ("institutional", 1, 279000),   # 31 × 90
    ("institutional", 16, 249000),  # 15 × 70 + 16 × 90
    ("institutional", 31, 219000),  # 30 × 70 + 1 × 90
]
NEW_TERMS = {"family_subsidy": ("caregiver", {"family_subsidy_fen": 60000}, 60000),
             "home_visit": ("provider", {"visit_rate_fen": 10000}, 10000),
             "institutional": ("provider", {"bed_day_rates": {5: 9000}}, 9000)}


@pytest.mark.parametrize(("benefit", "day", "gross"), AMENDMENTS)
async def test_an_amendment_prices_the_days_before_and_from_it_by_their_terms(
        database_url, monkeypatch, benefit, day, gross) -> None:
    scenario = {
        "family_subsidy": Scenario("subsidy"),
        "home_visit": Scenario("visits", caregiver=None,
                               visits=tuple((d, "accepted") for d in (1, 15, 16, 31))),
        "institutional": Scenario("beds", caregiver=None, stay=(date(2026, 11, 20), None)),
    }[benefit]
    world = await build(monkeypatch, scenario)
    kind, change, rate = NEW_TERMS[benefit]
    current = await Agreement.select().where(Agreement.kind == kind).first()
    amended = await agreements.amend(world.staff.clerk, current["id"], current["version"],
                                     effective_from=date(2026, 12, day), reason="标准调整",
                                     **change)
    assert (amended["starts_on"], amended["state"]) == (date(2026, 12, day), "ACTIVE")
    before = await Agreement.select().where(Agreement.id == current["id"]).first()
    assert (before["state"], before["state_changed_on"]) == ("AMENDED", date(2026, 12, day))
    line = (await lines_of((await computed(monkeypatch, date(2026, 12, 1),
                                           world.staff.clerk))["id"]))[benefit]
    assert line["gross_fen"] == gross
    # One rate priced the month only when the new terms cover all of it.
    assert line["rate_fen"] == (rate if day == 1 else 0)


async def _approved_without_provider_account(monkeypatch) -> tuple[Any, dict[str, Any]]:
    """December approved: the caregiver (450.00, with an account) and the provider (304.00
    net) whose agreement names no account."""
    world = await build(monkeypatch, next(s for s in SCENARIOS if s.name == "over-quota visits"))
    await _caregiver(world, date(2026, 1, 1), date(2028, 12, 31))
    await Agreement.update({Agreement.bank_name: "", Agreement.bank_account: ""}).where(
        Agreement.kind == "provider")
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    return world, await approved(batch, world.staff.clerk, await reviewer())


def _pdf_text(path) -> str:
    """pdftotext's text without whitespace (Chinese lines wrap anywhere). Sync: a short
    local process."""
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                            text=True)
    return "".join(result.stdout.split())


def _bank_file(batch: dict[str, Any]) -> list[dict[str, str]]:
    text = documents.path_for(batch["bank_file_sha256"], suffix=".csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


async def test_export_names_every_payee_without_an_account_and_the_papers_say_unpaid(
        database_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    world, batch = await _approved_without_provider_account(monkeypatch)
    clerk = world.staff.clerk
    plan = await service.export_check(clerk, batch["id"])
    assert plan["transfers"] == {"count": 1, "amount_fen": 45000}
    assert [(p["payee_name"], p["amount_fen"]) for p in plan["without_account"]] == [
        ("新城街道社区卫生服务中心", 30400)]
    with pytest.raises(service.PayeesWithoutAccount) as refused:
        await service.export(clerk, batch["id"], batch["version"])
    assert refused.value.code == "payee_accounts_missing"
    assert "新城街道社区卫生服务中心 304.00元" in refused.value.message
    assert refused.value.as_json()["error"]["payees"] == plan["without_account"]
    assert await Payment.count() == 0  # nothing exported

    batch = await service.export(clerk, batch["id"], batch["version"],
                                 confirm_missing_accounts=True)
    rows = _bank_file(batch)
    assert [(r["payee_name"], r["amount_yuan"]) for r in rows] == [("李明", "450.00")]
    summary = await queries.payments_summary(batch["id"])
    assert summary["bank_file"] == {"count": 1, "amount": 45000}
    assert [(r["status"], r["sent"]) for r in summary["rows"]] == [
        ("pending", True), ("unpayable", False)]
    unpaid = await queries.unpaid_payments(batch["id"])
    assert [(p["payee_name"], p["failure_reason"]) for p in unpaid] == [
        ("新城街道社区卫生服务中心", rules.NO_ACCOUNT)]

    # The summary's bank totals are the bank file's, to the fen; the unpaid are listed.
    text = _pdf_text(documents.path_for(await statements.summary_pdf(batch["id"]),
                                        tmp_path / "media"))
    count, amount = re.search(r"银行转账(\d+)笔，合计([0-9.]+)元", text).groups()
    assert int(count) == len(rows)
    assert amount == f"{sum(int(r['amount_yuan'].replace('.', '')) for r in rows) / 100:.2f}"
    assert "未支付1个收款人，合计304.00元" in text and "新城街道社区卫生服务中心304.00元" in text

    # The provider's statement and its list say unpaid, and why; nothing is "paid".
    context = await statements.statement_context(batch["id"], f"org:{world.organisation_id}")
    assert (context["payee"]["sent"], context["payee"]["status"],
            context["payee"]["unpaid_reason"]) == (False, rules.PAYMENT_STATUSES["unpayable"],
                                                    rules.NO_ACCOUNT)
    provider_user = await User.select(User.id).where(
        User.organisation == world.organisation_id).first()
    listed = await queries.provider_statements(await user_actor(provider_user["id"]))
    assert (listed[0]["payment_label"], listed[0]["paid_fen"], listed[0]["unpaid_reason"]) == (
        rules.PAYMENT_STATUSES["unpayable"], 0, rules.NO_ACCOUNT)
    assert await PayoutDocument.count().where(PayoutDocument.kind == "summary") == 1


async def test_an_account_added_by_amendment_pays_what_was_carried(database_url,
                                                                   monkeypatch) -> None:
    world, batch = await _approved_without_provider_account(monkeypatch)
    clerk = world.staff.clerk
    batch = await service.export(clerk, batch["id"], batch["version"],
                                 confirm_missing_accounts=True)
    provider = await Agreement.select().where(Agreement.kind == "provider").first()
    await agreements.amend(clerk, provider["id"], provider["version"],
                           effective_from=date(2027, 1, 1), reason="补录收款账户",
                           account_source="entered", bank_name="中国建设银行肥城支行",
                           bank_account_name="新城街道社区卫生服务中心",
                           bank_account="6217 0000 0000 0000 123")
    january = await computed(monkeypatch, date(2027, 1, 1), clerk)
    assert (await lines_of(january["id"]))["carry_forward:home_visit"]["net_fen"] == 30400
    january = await approved(january, clerk, await reviewer("checker2"))
    assert (await service.export_check(clerk, january["id"]))["without_account"] == []
    january = await service.export(clerk, january["id"], january["version"])
    paid = {r["bank_account"]: r for r in _bank_file(january)}
    assert paid["6217000000000000123"]["payee_name"] == "新城街道社区卫生服务中心"
    assert CAREGIVER_ID not in paid


async def test_the_api_refuses_with_the_list_until_confirmed(database_url, client,
                                                             monkeypatch) -> None:
    world, batch = await _approved_without_provider_account(monkeypatch)
    user = await User.select(User.username).where(User.id == world.staff.clerk.id).first()
    await sign_in(client, user["username"])
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf")}
    url = f"/api/v1/payouts/batches/{batch['id']}/export"
    refused = await client.post(url, json={"version": batch["version"]}, headers=headers)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "payee_accounts_missing"
    assert [(p["payee_name"], p["amount_fen"], p["reason"]) for p in error["payees"]] == [
        ("新城街道社区卫生服务中心", 30400, rules.NO_ACCOUNT)]
    assert "confirm_missing_accounts" in error["fields"]
    done = await client.post(url, json={"version": batch["version"],
                                        "confirm_missing_accounts": True}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["payments"]["bank_file"] == {"count": 1, "amount": 45000}


async def test_a_voided_draft_never_supplies_the_account(database_url, monkeypatch) -> None:
    """A renewal drafted from 1 January with a mistyped account and voided (作废) never
    covered a day: December is paid into the account of the agreement that covered it."""
    world = await build(monkeypatch, next(s for s in SCENARIOS if s.name == "over-quota visits"))
    clerk = world.staff.clerk
    batch = await computed(monkeypatch, date(2026, 12, 1), clerk)  # today: 2 January 2027
    voided = await agreements.create_agreement(
        clerk, "provider", organisation=world.organisation_id, home_visits=True,
        starts_on=date(2027, 1, 1), ends_on=date(2027, 12, 31), account_source="entered",
        bank_name="中国建设银行肥城支行", bank_account_name="新城街道社区卫生服务中心",
        bank_account="6217999900001111")
    await agreements.terminate(clerk, voided["id"], voided["version"], reason="账号填错，作废",
                               from_day=None)
    batch = await approved(batch, clerk, await reviewer())
    batch = await service.export(clerk, batch["id"], batch["version"])
    assert [(r["payee_name"], r["bank_account"]) for r in _bank_file(batch)] == [
        ("新城街道社区卫生服务中心", "6217000000000000002")]
