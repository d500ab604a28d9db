"""Acceptance while the bureau's enrolment system is down, in a real browser on a phone: the
app runs with LTC_ENROLMENT_URL pointing at a real HTTP server on 127.0.0.1, stopped; the
clerk sees 参保状态暂无法查询, the application stays as it was, and 重新查询 accepts it once
the system is back."""

import sys

import pytest
from conftest import TEST_PASSWORD, app_env, free_port, sign_in_page, start_app
from support.application_cases import submitted, world_fixture  # noqa: F401
from support.bureau import TOKEN, bureau_fixture  # noqa: F401

from ltc.applications.tables import Application

pytestmark = [pytest.mark.anyio, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def enrolment_server(database_url, tmp_path, bureau):
    port = free_port()
    process = start_app(
        [sys.executable, "-m", "uvicorn", "ltc.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port)],
        app_env(database_url, tmp_path, LTC_ENROLMENT_URL=bureau.url,
                LTC_ENROLMENT_TOKEN=TOKEN, LTC_ENROLMENT_RETRIES="0"), port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


async def test_unknown_enrolment_then_a_real_retry(enrolment_server, browser, world,
                                                   bureau) -> None:
    application = await submitted(world)
    bureau.stop()
    clerk = await sign_in_page(browser, enrolment_server, "city_clerk", TEST_PASSWORD,
                               viewport=PHONE)
    await clerk.goto(f"{enrolment_server}/applications/{application['id']}")
    await clerk.click("button[value=accept]")
    notice = clerk.locator("#enrolment-unknown")
    await notice.wait_for()
    assert "参保状态暂无法查询" in await notice.inner_text()
    assert (await Application.select().first())["state"] == "SUBMITTED"
    assert await clerk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await clerk.click("[data-font-toggle]")  # 大字 mode still fits the phone
    assert await clerk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    bureau.start()
    await notice.locator("text=重新查询").click()
    await clerk.wait_for_selector("text=申请已受理")
    assert (await Application.select().first())["state"] == "ACCEPTED"
    assert bureau.hits == 1
