"""Payout documents: a provider's statement rendered by the worker after export and a family
caregiver's on demand, the batch's summary — Chinese fonts embedded, amounts in yuan with
their explanation, the same bytes and one record when rendered again — and the monthly
schedule that prepares last month's draft once."""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from integration.test_visits import World, at, december_world, log, visit
from support.cases import FrozenClock, assert_bureau_contact, clear_bureau_contact, resident_id

from ltc import clock, documents
from ltc.agreements.tables import Agreement
from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict
from ltc.jobs import scheduler
from ltc.jobs.tables import OutboxMessage, ScheduledRun
from ltc.payouts import jobs as payout_jobs
from ltc.payouts import service, statements
from ltc.payouts.tables import PayoutBatch, PayoutDocument

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
CAREGIVER_ID = resident_id(date(1968, 5, 4), "M", serial=7)


def _text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def _fonts(path) -> list[dict[str, str]]:
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    return [{"name": line.split()[0], "emb": line.split()[-5]} for line in lines]


def _flat(text: str) -> str:
    return "".join(text.split())


async def exported_december(monkeypatch) -> tuple[World, dict]:
    """December 2026 paid: four visits by the provider's nurse, and a family caregiver
    (李明, the beneficiary's son) under agreement the whole month."""
    world = await december_world(monkeypatch)
    frozen = FrozenClock(monkeypatch, date(2026, 12, 31))
    for day in (7, 14, 21, 28):  # each logged the day it was done (later is 补录)
        frozen.set(date(2026, 12, day))
        await log(world.nurse, visit(world, started_at=at(day, 9), ended_at=at(day, 9, 45)))
    await Agreement(number="XYCG0001", kind="caregiver", region_path="370983",
                    beneficiary=world.case.person_id, caregiver_name="李明",
                    caregiver_resident_id=CAREGIVER_ID, caregiver_phone="13800000000",
                    relationship="儿子", bank_name="肥城农商银行",
                    bank_account="6228480012345678", starts_on=date(2026, 1, 1),
                    ends_on=date(2027, 12, 31), state="ACTIVE").save()
    FrozenClock(monkeypatch, date(2027, 1, 2))
    staff = world.staff
    batch = await service.create_batch(staff.clerk, "370983", date(2026, 12, 1))
    batch = await service.compute(batch["id"])
    batch = await service.submit(staff.clerk, batch["id"], batch["version"])
    batch = await service.approve(staff.reviewer, batch["id"], batch["version"])
    batch = await service.export(staff.clerk, batch["id"], batch["version"])
    return world, batch


async def test_statements_and_summary(database_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    world, batch = await exported_december(monkeypatch)
    provider = f"org:{world.organisation_id}"
    caregiver = f"cg:{CAREGIVER_ID}"
    queued = sorted((m["actor_name"], m["args"]) for m in await OutboxMessage.select()
                    if m["actor_name"].startswith("payouts.render"))
    assert queued == [(service.STATEMENT_JOB, f'[{batch["id"]}, "{provider}"]'),
                      (service.SUMMARY_JOB, f'[{batch["id"]}]')]

    # The provider's statement, as the worker renders it.
    await statements.statement_pdf(batch["id"], provider)  # what the job calls
    row = await PayoutDocument.select().where(PayoutDocument.kind == "statement").first()
    assert row["payee_key"] == provider
    path = documents.path_for(row["sha256"], tmp_path / "media")
    fonts = _fonts(path)
    assert fonts and all(f["emb"] == "yes" for f in fonts), fonts
    assert any("Noto" in f["name"] and "CJK" in f["name"] for f in fonts), fonts
    text = _flat(_text(path))
    for expected in ("长期护理保险待遇结算对账单", "新城街道社区卫生服务中心", "JS370983202612",
                     "2026年12月", "上门护理服务费", "320.00", "16.00", "304.00",
                     "2026年12月计费上门4次×80.00元/次", "按5%预留质量保证金16.00元，实付304.00元",
                     "2026-12-07", "计费", world.case.name, "肥城市医疗保障局",
                     world.case.resident_id[:6] + "********" + world.case.resident_id[-4:]):
        assert _flat(expected) in text, expected
    assert "联系电话：0538-3221234" in text  # the pooling region's, as in 地区管理
    assert world.case.resident_id not in text
    # Rendering again: the same bytes, still one record and one audit event.
    assert await statements.statement_pdf(batch["id"], provider) == row["sha256"]
    assert await PayoutDocument.count().where(PayoutDocument.kind == "statement") == 1
    assert await AuditEvent.count().where(
        AuditEvent.action == "payout_batch.statement_rendered") == 1

    # A family caregiver's statement, on demand: full name of the beneficiary, masked IDs
    # and account.
    sha256 = await statements.statement_pdf(batch["id"], caregiver)
    text = _flat(_text(documents.path_for(sha256, tmp_path / "media")))
    for expected in ("李明", "家庭护理补贴", "450.00", "************5678", "肥城农商银行"):
        assert expected in text, expected
    assert CAREGIVER_ID not in text and "6228480012345678" not in text
    assert await PayoutDocument.count().where(PayoutDocument.payee_key == caregiver) == 1

    # The summary, as the worker renders it; the batch points at it.
    await statements.summary_pdf(batch["id"])  # what the job calls
    summary = await PayoutDocument.select().where(PayoutDocument.kind == "summary").first()
    stored = await PayoutBatch.select().where(PayoutBatch.id == batch["id"]).first()
    assert stored["summary_sha256"] == summary["sha256"]
    text = _flat(_text(documents.path_for(summary["sha256"], tmp_path / "media")))
    for expected in ("长期护理保险月度结算汇总表", "JS370983202612", "已导出",
                     "家庭护理补贴", "上门护理服务费", "新城街道", "770.00", "754.00",
                     "银行转账2笔，合计754.00元", "预留质量保证金16.00元", "未设定"):
        assert expected in text, expected
    assert await statements.summary_pdf(batch["id"]) == summary["sha256"]
    assert await PayoutDocument.count().where(PayoutDocument.kind == "summary") == 1


async def test_without_the_bureau_contact_a_statement_prints_no_contact_line(
        database_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    world, batch = await exported_december(monkeypatch)
    await clear_bureau_contact()
    for payee in (f"org:{world.organisation_id}", f"cg:{CAREGIVER_ID}"):
        sha256 = await statements.statement_pdf(batch["id"], payee)
        text = _flat(_text(documents.path_for(sha256, tmp_path / "media")))
        assert "向肥城市医疗保障局提出；" in text
        assert_bureau_contact(text, printed=False)


async def test_no_statement_before_export(database_url, monkeypatch) -> None:
    world = await december_world(monkeypatch)
    FrozenClock(monkeypatch, date(2027, 1, 2))
    batch = await service.create_batch(world.staff.clerk, "370983", date(2026, 12, 1))
    await service.compute(batch["id"])
    with pytest.raises(Conflict):
        await statements.statement_context(batch["id"], f"org:{world.organisation_id}")
    with pytest.raises(Conflict):
        await statements.summary_context(batch["id"])


def test_masked_account() -> None:
    assert statements.mask_account("6228 4800 1234 5678") == "************5678"
    assert statements.mask_account("123") == "***"


async def test_the_monthly_schedule_prepares_last_month_once(database_url,
                                                             monkeypatch) -> None:
    frozen = FrozenClock(monkeypatch, date(2027, 1, 1))
    frozen.moment = datetime(2027, 1, 1, 1, 5, tzinfo=clock.CHINA)
    # Registered with the workers (importing them would install their broker here).
    assert "payout_jobs.SCHEDULE" in (ROOT / "workers" / "__init__.py").read_text()
    schedules = [payout_jobs.SCHEDULE]
    assert await scheduler.tick(schedules, clock.now(), clock.CHINA) == [
        ("payouts.prepare", "2027-01")]
    assert await scheduler.tick(schedules, clock.now(), clock.CHINA) == []
    message = await OutboxMessage.select().where(
        OutboxMessage.actor_name == "payouts.prepare").first()
    assert message["args"] == '["2027-01"]'
    assert await payout_jobs.prepare_period("2027-01") == ["JS370983202612"]
    # Delivered twice: still one draft.
    assert await payout_jobs.prepare_period("2027-01") == ["370983: batch_exists"]
    batches = await PayoutBatch.select()
    assert [(b["number"], b["month"], b["state"]) for b in batches] == [
        ("JS370983202612", date(2026, 12, 1), "DRAFT")]
    assert await ScheduledRun.count().where(ScheduledRun.job == "payouts.prepare") == 1
