"""A provider's exit in a real browser: the clerk records the exit (a day short of three
months' notice is refused beside the field), finds the client handover worklist with the
town's other provider proposed, cannot complete the exit while a client is open, confirms
the handover and completes the exit; the client's next plan names the new provider from the
exit day."""

from datetime import timedelta

import pytest
from conftest import TEST_PASSWORD, sign_in_page
from integration.test_sanctions import _second_provider, _town
from integration.test_visits import care_world
from support.cases import FrozenClock, entitled_case, make_staff

from ltc import clock
from ltc.careplans.tables import CarePlan
from ltc.sanctions.rules import earliest_exit
from ltc.sanctions.tables import ProviderExit

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_a_clerk_records_an_exit_and_works_its_handover_list(server, browser,
                                                                   monkeypatch) -> None:
    today = clock.today()  # the server keeps real time; this process travels back to set up
    FrozenClock(monkeypatch, today - timedelta(days=40))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=clock.today())
    world = await care_world(staff, case, entitlement_id, plan_from=clock.today(),
                             agreements=(today - timedelta(days=365),
                                         today + timedelta(days=365)))
    nearby = await _second_provider(world, "nurse2", "T-P2", await _town(world))
    exit_on = earliest_exit(today)

    page = await sign_in_page(browser, server, "clerk", TEST_PASSWORD)
    await page.click("nav >> text=机构退出")
    await page.select_option("#organisation", str(world.organisation_id))
    await page.fill("#exit_on", (exit_on - timedelta(days=1)).isoformat())
    await page.fill("#reason", "机构转型，不再提供居家护理")
    await page.click("text=登记退出并生成交接清单")
    await page.wait_for_selector(f"#exit_on-error >> text=最早为 {exit_on.isoformat()}")
    assert await ProviderExit.count() == 0
    await page.fill("#exit_on", exit_on.isoformat())
    await page.click("text=登记退出并生成交接清单")
    await page.wait_for_selector("h2 >> text=服务对象交接清单")
    assert await page.locator("tr >> text=张秀英").count() == 1

    await page.click("text=完成退出")
    await page.wait_for_selector("text=还有 1 名服务对象未完成交接")
    select = page.locator("select[name=provider]")
    assert await select.input_value() == str(nearby)  # the proposal is preselected
    await page.click("text=确认交接")
    await page.wait_for_selector("text=已交接给")
    await page.click("text=完成退出")
    await page.wait_for_selector("text=机构退出已完成")
    assert await page.locator("text=已完成退出").count() >= 1

    plan = await CarePlan.select().where(CarePlan.provider == nearby).first()
    assert plan["starts_on"] == exit_on and plan["state"] == "ACTIVE"
    assert (await ProviderExit.select().first())["state"] == "COMPLETED"
