"""An admin on a phone in 大字 mode registers a decision-event subscriber: a bad address is
refused beside its field, the signing secret is shown once, and the subscriber and
delivery pages fit the 390 px screen."""

import pytest
from conftest import TEST_PASSWORD, make_user, sign_in_page

from ltc.decision_events.tables import EventSubscriber

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}


async def _fits(page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_an_admin_registers_a_subscriber_on_a_phone(server, browser) -> None:
    await make_user("admin", "admin")
    page = await sign_in_page(browser, server, "admin", TEST_PASSWORD, viewport=PHONE,
                              init_script="localStorage.setItem('ltc-large-font', '1')")
    await page.goto(f"{server}/admin/event-subscribers")
    await _fits(page)
    await page.click("text=登记订阅方")
    await page.fill("#name", "市医保核心系统")
    await page.fill("#url", "ybhx.example.cn/ltc")
    await page.click("button >> text=登记")
    await page.wait_for_selector("#url-error >> text=http:// 或 https://")
    await page.wait_for_selector("#event_types-error >> text=请至少选择一种事件")
    assert await EventSubscriber.count() == 0

    await page.fill("#url", "https://ybhx.example.cn/ltc/events-from-the-long-term-care-system")
    await page.check("input[value='entitlement.ended']")
    await page.click("button >> text=登记")
    secret = await page.locator("#secret").inner_text()
    assert secret == (await EventSubscriber.select().first())["secret"]
    await _fits(page)
    await page.goto(f"{server}/admin/event-subscribers")
    await page.click("text=市医保核心系统")
    assert await page.locator("#secret").count() == 0
    await page.click("button >> text=暂停推送")
    await page.wait_for_selector("text=已暂停推送")
    await _fits(page)
    await page.goto(f"{server}/admin/event-deliveries")
    await _fits(page)
