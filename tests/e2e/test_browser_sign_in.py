"""A person signs in with a real browser (Debian's Chromium) against the real server."""

import pytest
from conftest import TEST_PASSWORD, make_user

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_a_reviewer_signs_in_and_sees_their_home_page(server: str, browser) -> None:
    await make_user("reviewer", username="zhao")
    page = await browser.new_page()
    await page.goto(f"{server}/")
    assert "/login" in page.url  # not signed in yet: sent to the login page
    await page.fill("#username", "zhao")
    await page.fill("#password", "wrong-password-1")
    await page.click("button[type=submit]")
    assert "用户名或密码错误" in await page.inner_text("main")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server}/")
    assert await page.inner_text("h1") == "审核员工作台"
    assert "审核员" in await page.inner_text("header")
    # The large-font switch works and is remembered across pages.
    await page.click("[data-font-toggle]")
    await page.reload()
    assert await page.evaluate(
        "document.documentElement.classList.contains('large-font')")
    await page.click("text=退出登录")
    await page.wait_for_url(f"{server}/login")
