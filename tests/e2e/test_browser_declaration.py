"""A provider declares (申报) its lines of last month's draft in a real browser, on a phone:
from the workbench's queue to its own lines, the declaration confirmed, and the clerk's
batch page names who declared."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_PASSWORD, sign_in_page
from integration.test_visits import care_world, log, visit
from support.browser import accept_dialogs, flash_after
from support.cases import FrozenClock, entitled_case, make_staff

from ltc import clock
from ltc.payouts import service
from ltc.payouts.tables import PayoutDeclaration

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_a_provider_declares_its_lines(server, browser, monkeypatch) -> None:
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
    frozen.set(month.replace(day=7))
    start = datetime(month.year, month.month, 7, 9, tzinfo=clock.CHINA)
    await log(world.nurse, visit(world, started_at=start, ended_at=start + timedelta(minutes=45)))
    frozen.moment = real_now.astimezone(UTC)
    batch = await service.create_batch(staff.clerk, "370983", month)
    await service.compute(batch["id"])

    nurse = await sign_in_page(browser, server, "nurse", TEST_PASSWORD)
    await nurse.set_viewport_size({"width": 390, "height": 844})
    await accept_dialogs(nurse)
    await nurse.goto(server + "/")
    async with nurse.expect_navigation():
        await nurse.click("li.queue[data-queue=declare] .queue-items a")
    lines = await nurse.inner_text("main")
    assert "张秀英" in lines and "上门护理服务费" in lines and "计费上门1次" in lines
    await flash_after(nurse, "#declare", "已申报")
    assert "已申报：王丽" in await nurse.inner_text("#declared")
    assert await nurse.locator("#declare").count() == 0
    assert await PayoutDeclaration.count() == 1

    clerk = await sign_in_page(browser, server, "clerk", TEST_PASSWORD)
    await clerk.goto(f"{server}/payouts/{batch['id']}")
    assert "已申报：王丽" in await clerk.inner_text("#declarations")
