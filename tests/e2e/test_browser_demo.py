"""The demo county in a real browser (Debian's Chromium) against `ltc demo` itself: every
role signs in and finds work on its workbench; a paid batch, a re-assessed case and a
provider's statement open. One demo for the module, from the session's kept county
(tests.support.demo): the build happens once per test session."""

import os
import sqlite3
from pathlib import Path

import pytest
from conftest import PG_URL, free_port, sign_in_page
from support.demo import start_demo, stop_demo

from ltc.web.timeline import ACTION_LABELS

pytestmark = [pytest.mark.anyio, pytest.mark.browser,
              pytest.mark.skipif(bool(PG_URL), reason="ltc demo runs on SQLite only")]


@pytest.fixture(scope="module")
def demo(demo_var_dir: Path):
    """(base URL, {username: password}, the demo's database file) of a running demo."""
    port = free_port()
    process, logins = start_demo(demo_var_dir, port)
    try:
        yield (f"http://127.0.0.1:{port}", {user: password for _, user, password in logins},
               demo_var_dir / "ltc.sqlite3")
    finally:
        stop_demo(process)


def _one(database: Path, sql: str) -> tuple:
    """A row of the running demo's database (read-only), to know which page to open."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        row = connection.execute(sql).fetchone()
    assert row is not None, sql
    return row


async def _numbers(page) -> list[int]:
    return [int(n) for n in await page.locator(".inbox b").all_inner_texts()]


# (login, workbench heading) — one or more per role; the assessors' work is each their own.
WORKBENCHES = [("clerk", "经办员工作台"), ("expert", "评估员工作台"),
               ("checker", "评估员工作台"), ("reviewer", "审核员工作台"),
               ("provider", "护理机构工作台")]


@pytest.mark.parametrize(("username", "heading"), WORKBENCHES)
async def test_every_role_finds_work_on_its_workbench(demo, browser, username: str,
                                                      heading: str) -> None:
    server, passwords, _ = demo
    page = await sign_in_page(browser, server, username, passwords[username])
    assert await page.inner_text("h1") == heading
    if username == "provider":  # this month's home visits, beneficiary by beneficiary
        assert await page.locator("#month-title + ul li.card").count() >= 1
    else:
        assert sum(await _numbers(page)) >= 1, await page.inner_text("main")


async def test_the_admin_sees_the_history_and_the_registers(demo, browser) -> None:
    server, passwords, _ = demo
    page = await sign_in_page(browser, server, "admin", passwords["admin"])
    assert await page.inner_text("h1") == "系统管理"
    assert "签于" in await page.inner_text("main")  # the checkpoint signed at start
    await page.goto(f"{server}/admin/organisations?status=suspended")
    assert "肥城市康宁居家护理服务中心" in await page.inner_text("main")
    await page.goto(f"{server}/staff?expiry=expired")
    assert "钱评估" in await page.inner_text("main")


async def test_a_paid_batch_a_reassessed_case_and_a_provider_statement_open(demo, browser
                                                                          ) -> None:
    server, passwords, database = demo
    clerk = await sign_in_page(browser, server, "clerk", passwords["clerk"])
    (batch,) = _one(database, "SELECT id FROM payout_batch WHERE state = 'RECONCILED' "
                              "ORDER BY month DESC")
    await clerk.goto(f"{server}/payouts/{batch}")
    text = await clerk.inner_text("main")
    assert "已对账" in text and "已支付" in text
    # The objected notice entry, and the case: its first assessment and the re-assessment.
    (notice, application) = _one(database, "SELECT batch, application FROM notice_entry "
                                           "WHERE outcome = 'OBJECTED'")
    await clerk.goto(f"{server}/notice-batches/{notice}")
    assert "异议" in await clerk.inner_text("main")
    await clerk.goto(f"{server}/applications/{application}")
    assert "已办结" in await clerk.inner_text(".case-stage")
    assert await clerk.locator("main a[href^='/assessments/']").count() == 2
    # The whole case on one page: the objection step passed, the timeline through the
    # notice, the objection and the decision, in that order.
    assert await clerk.locator(".steps li.step-done").count() == 8
    timeline = await clerk.inner_text("#timeline-title + table")
    steps = ["发布公示", "收到异议", "因异议分派重新评估", "作出待遇核定"]
    assert all(step in timeline for step in steps), timeline
    assert [timeline.index(step) for step in steps] == sorted(
        timeline.index(step) for step in steps)

    # The payee story: the provider agreement amended mid-month, both versions on its page;
    # the batch whose payment to a family caregiver the bank returned shows it unpaid.
    (amended,) = _one(database, "SELECT id FROM agreement WHERE kind = 'provider' "
                                "AND amendment_no = 1")
    await clerk.goto(f"{server}/agreements/{amended}")
    text = await clerk.inner_text("main")
    assert "原协议" in text and "补充协议（第 1 次变更）" in text
    (returned,) = _one(database, "SELECT batch FROM payment WHERE status = 'failed'")
    await clerk.goto(f"{server}/payouts/{returned}")
    text = await clerk.inner_text("main")
    assert "支付失败" in text and "账户已销户" in text

    provider = await sign_in_page(browser, server, "provider", passwords["provider"])
    await provider.goto(f"{server}/provider/statements")
    assert "已对账" in await provider.inner_text("main")
    link = provider.locator("a[href$='/statement.pdf']").first
    response = await provider.request.get(server + await link.get_attribute("href"),
                                          timeout=120_000)
    assert response.status == 200
    assert (await response.body()).startswith(b"%PDF")


async def test_every_audit_action_of_the_demo_county_has_a_chinese_label(demo) -> None:
    """The county's whole life (applications to paid batches) as recorded: every kind of
    event reads in Chinese on the timelines (tests/unit/test_timeline_labels finds them in
    the code)."""
    _, _, database = demo
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        actions = {row[0] for row in connection.execute("SELECT DISTINCT action "
                                                        "FROM audit_event")}
    assert {"notice.objection_received", "decision.made", "payout_batch.reconciled"} <= actions
    assert sorted(actions - ACTION_LABELS.keys()) == []


async def test_the_dashboard_on_a_phone_in_large_type(demo, browser) -> None:
    """The reviewer's dashboard at 390 px in 大字: real figures of the demo county, every
    chart within the screen beside its table, a CSV for Excel and last month's report.
    LTC_SHOTS (a directory) keeps the page as seen, and at 1280 px in normal type."""
    server, passwords, _ = demo
    page = await sign_in_page(
        browser, server, "reviewer", passwords["reviewer"],
        init_script="localStorage.setItem('ltc-large-font', '1')",
        viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True)
    await page.goto(f"{server}/dashboard")
    assert await page.inner_text("h1") == "数据看板"
    charts = page.locator("section.card svg.chart")
    assert await charts.count() >= 9
    for i in range(await charts.count()):
        box = await charts.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    spend = page.locator("#benefits table tbody tr")
    assert "¥" in await spend.first.inner_text()  # last month's batch was paid
    font = await page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert font == "20px"
    answer = await page.request.get(f"{server}/dashboard/export.csv?section=grades")
    assert answer.ok and (await answer.body()).startswith("\ufeff失能等级".encode())
    assert await page.locator("a[href$='/report.pdf?region=370983']").count() >= 1
    if shots := os.environ.get("LTC_SHOTS"):
        await page.screenshot(path=f"{shots}/dashboard-390-large.png", full_page=True)
        wide = await sign_in_page(browser, server, "reviewer", passwords["reviewer"],
                                  viewport={"width": 1280, "height": 900})
        await wide.goto(f"{server}/dashboard")
        await wide.screenshot(path=f"{shots}/dashboard-1280.png", full_page=True)
