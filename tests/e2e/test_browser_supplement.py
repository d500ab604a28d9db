"""Asking for missing materials in a real browser: the clerk opens a submitted application,
sends the 一次性告知 with the proposed materials and the default day, sees it waiting (待补正),
records the materials when they come and accepts — on a phone-sized screen without sideways
scrolling."""

import pytest
from conftest import TEST_PASSWORD, sign_in_page
from support.application_cases import ZHANG, submitted, world_fixture  # noqa: F401
from support.browser import flash_after

from ltc.applications.tables import Application

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}


async def test_the_clerk_asks_for_materials_then_accepts(world, server, browser,
                                                         tmp_path) -> None:
    application = await submitted(world, materials=["application_form", "id_card"])
    clerk = await sign_in_page(browser, server, "city_clerk", TEST_PASSWORD)
    await clerk.set_viewport_size(PHONE)
    await clerk.goto(f"{server}/applications/{application['id']}")
    await clerk.click("text=材料不齐：一次性告知补正")
    assert await clerk.is_checked("input[name=materials][value=insurance_card]")
    assert await clerk.is_checked("input[name=materials][value=medical_records]")
    assert not await clerk.is_checked("input[name=materials][value=id_card]")
    assert await clerk.input_value("#due_on")  # the default day is filled in
    assert await clerk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await clerk.screenshot(path=str(tmp_path / "request.png"), full_page=True)
    await flash_after(clerk, "button[value=request_materials]", "已一次性告知补正材料")
    assert "待补正" in await clerk.inner_text("main")
    assert await clerk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await clerk.screenshot(path=str(tmp_path / "waiting.png"), full_page=True)
    row = await Application.select().where(Application.id == application["id"]).first()
    assert row["state"] == "SUPPLEMENT" and ZHANG not in await clerk.content()

    await flash_after(clerk, "button[value=receive_materials]", "补正材料已登记")
    await flash_after(clerk, "button[value=accept]", "申请已受理")
    row = await Application.select().where(Application.id == application["id"]).first()
    assert row["state"] == "ACCEPTED"
