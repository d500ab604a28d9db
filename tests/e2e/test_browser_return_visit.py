"""Return-visit sampling in a real browser: last month's sample drawn, the clerk opens 回访抽样
from the navigation, opens a sampled visit (the phone masked), starts the call (the full
phone and the script), records what the family said, and sees the result; on a phone-sized
screen the call page fits."""

from datetime import datetime, time, timedelta

import pytest
from conftest import TEST_PASSWORD, sign_in_page
from integration.test_visits import care_world, log, visit
from support.browser import flash_after
from support.cases import FrozenClock, entitled_case, make_staff

from ltc import clock
from ltc.identity import SYSTEM
from ltc.people.tables import Person
from ltc.returnvisits import service
from ltc.returnvisits.tables import ReturnVisit

pytestmark = [pytest.mark.anyio, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


async def test_the_clerk_calls_back_a_sampled_visit(server, browser, monkeypatch) -> None:
    # A plan from the first of last month (set up in this process; the server keeps real
    # time), three visits logged on their days, and last month's sample drawn.
    today = clock.today()
    last_month = clock.previous_month(clock.month_first(today))
    frozen = FrozenClock(monkeypatch, last_month - timedelta(days=11))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=last_month - timedelta(days=3))
    world = await care_world(staff, case, entitlement_id, plan_from=last_month,
                             agreements=(today - timedelta(days=365),
                                         today + timedelta(days=365)))
    for offset in (2, 9, 16):
        day = last_month + timedelta(days=offset)
        frozen.set(day)
        start = datetime.combine(day, time(9), clock.CHINA)
        await log(world.nurse, visit(world, started_at=start,
                                     ended_at=start + timedelta(minutes=45)))
    frozen.set(today)
    await service.draw_month(SYSTEM, "370983", last_month)
    assert await ReturnVisit.count() == 3  # fewer visits than the minimum: every one
    phone = (await Person.select(Person.phone).where(
        Person.id == case.person_id).first())["phone"]

    page = await sign_in_page(browser, server, "clerk", TEST_PASSWORD)
    await page.click("nav >> text=回访抽样")
    await page.wait_for_selector("h1 >> text=回访抽样")
    listed = await page.inner_text("main")
    assert phone not in listed and phone[:3] + "****" + phone[-4:] in listed
    await page.click("table a.button:text-is('回访') >> nth=0")
    await page.wait_for_selector("h1 >> text=服务回访：张秀英")
    assert phone not in await page.inner_text("main")
    await page.click("text=开始回访（显示完整电话）")
    await page.wait_for_selector(f"text={phone}")
    script = await page.inner_text("ol")
    assert "张秀英" in script and "1到5分" in script
    # Reached, but no score chosen: refused beside the field, nothing saved.
    await page.check("input[name=outcome][value=confirmed]")
    await page.click("text=保存回访结果")
    await page.wait_for_selector(".field-error >> text=请选择满意度")
    await page.check("input[name=outcome][value=confirmed]")
    await page.check("input[name=satisfaction][value='5']")
    await page.fill("#note", "家属说护士按时上门，项目都做了")
    await flash_after(page, "text=保存回访结果", "已记录回访结果")
    result = await page.inner_text("main")
    assert "确认属实" in result and "满意度 5 分" in result
    assert await ReturnVisit.count().where(ReturnVisit.state == "RECORDED") == 1

    # The next call on a phone-sized screen: nothing wider than the screen.
    await page.set_viewport_size(PHONE)
    await page.goto(f"{server}/return-visits?result=pending")
    await page.click("table a.button:text-is('回访') >> nth=0")
    await page.click("text=开始回访（显示完整电话）")
    await page.wait_for_selector("text=保存回访结果")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
