"""A month's payout in a real browser: the clerk makes last month's batch from 月度结算 (the
computation job is run here, as the worker would, and the page shows the result by itself),
reads a line's explanation and submits it; a reviewer approves; the batch is exported and
the bank file downloaded; the bank's result file, with the payment's reference from that
file, is uploaded and the batch is reconciled."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_PASSWORD, sign_in_page
from integration.test_visits import care_world, log, visit
from support.browser import accept_dialogs, flash_after
from support.cases import FrozenClock, entitled_case, make_staff

from ltc import clock
from ltc.payouts import service
from ltc.payouts.tables import Payment, PayoutBatch

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_a_month_from_draft_to_reconciled(server, browser, monkeypatch,
                                                tmp_path) -> None:
    # Last month (the server keeps real time): 张秀英 entitled and planned from its first
    # day, two home visits logged in it. Only this process's clock is moved.
    real_now = clock.now()
    month = clock.previous_month(clock.month_first(clock.today()))
    before = clock.previous_month(month)
    frozen = FrozenClock(monkeypatch, before + timedelta(days=19))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=before + timedelta(days=25))
    frozen.set(month + timedelta(days=14))
    world = await care_world(staff, case, entitlement_id, plan_from=month,
                             agreements=(month - timedelta(days=365),
                                         month + timedelta(days=730)))
    for day in (7, 14):  # each logged the day it was done (later is 补录)
        frozen.set(month.replace(day=day))
        start = datetime(month.year, month.month, day, 9, tzinfo=clock.CHINA)
        await log(world.nurse, visit(world, started_at=start,
                                     ended_at=start + timedelta(minutes=45)))
    frozen.moment = real_now.astimezone(UTC)

    # The clerk makes the batch for last month; the page says it is being computed.
    clerk = await sign_in_page(browser, server, "clerk", TEST_PASSWORD)
    await accept_dialogs(clerk)
    await clerk.click("nav >> text=月度结算")
    await clerk.fill("#month", f"{month:%Y-%m}")
    async with clerk.expect_navigation():
        await clerk.click("button:has-text('编制结算')")
    computing = await clerk.inner_text("#computing")
    assert "计算中" in computing and "页面会自动更新" in computing
    batch = await PayoutBatch.select().first()
    assert batch["number"] == f"JS370983{month:%Y%m}"
    await service.compute(batch["id"])  # what the payouts.compute job runs

    # The page shows the computed line by itself (nobody reloads it); its explanation
    # visit by visit.
    await clerk.wait_for_selector("#lines >> text=张秀英", timeout=90_000)
    assert await clerk.locator("#computing").count() == 0
    lines = await clerk.inner_text("#lines")
    assert "张秀英" in lines and "上门护理服务费" in lines and "2 次" in lines
    async with clerk.expect_navigation():
        await clerk.click("#lines >> text=说明")
    explanation = await clerk.inner_text("#explanation")
    assert "计费上门2次 × 80.00元/次" in explanation and "质量保证金8.00元" in explanation
    assert "不计费" not in await clerk.inner_text("#visits")
    await clerk.go_back()
    await flash_after(clerk, "button:has-text('提交审批')", "已提交审批")
    assert await clerk.inner_text("#batch-state") == "待审批"

    # A reviewer approves.
    reviewer = await sign_in_page(browser, server, "reviewer", TEST_PASSWORD)
    await accept_dialogs(reviewer)
    await reviewer.click("nav >> text=月度结算")
    async with reviewer.expect_navigation():
        await reviewer.click(f"tr:has-text('{batch['number']}') >> text=查看")
    assert "新增收款人" not in await reviewer.inner_text("main")  # no month before to compare
    await flash_after(reviewer, "button:has-text('审批通过')", "已审批通过")
    assert await reviewer.inner_text("#batch-state") == "已审批"

    # Exported; the bank file downloads with the payment in it.
    await clerk.reload()
    await flash_after(clerk, "button:has-text('导出')", "已导出银行代发文件")
    async with clerk.expect_download() as download_info:
        await clerk.click("text=下载银行代发文件")
    download = await download_info.value
    assert download.suggested_filename == f"银行代发_{batch['number']}.csv"
    rows = list(csv.reader(io.StringIO((await download.path()).read_text("utf-8"))))
    assert rows[0][0] == "payment_reference" and len(rows) == 2
    reference, amount = rows[1][0], rows[1][4]
    assert amount == "152.00"  # 2 × 80.00, less the 5 % deposit
    assert (await Payment.select().where(Payment.reference == reference).first())[
        "status"] == "pending"

    # The bank's result: paid. The batch is reconciled.
    result = tmp_path / "回单.csv"
    result.write_text(f"payment_reference,status,reason\n{reference},paid,\n", "utf-8")
    await clerk.set_input_files("#file", str(result))
    await flash_after(clerk, "button:has-text('导入回单')", "支付成功1笔")
    assert await clerk.inner_text("#batch-state") == "已对账"
