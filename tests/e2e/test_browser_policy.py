"""The admin's policy form in a real browser: a bureau officer changes the deposit rate and a
care item by ticking and typing percentages; a wrong entry is shown beside its field with
everything typed kept, and the corrected version is listed in words."""

from datetime import timedelta

import pytest
from conftest import TEST_PASSWORD, make_user, sign_in_page
from support.browser import flash_after

from ltc import clock

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_an_officer_adds_a_policy_version(server, browser, tmp_path) -> None:
    await make_user("admin", username="bureau")
    page = await sign_in_page(browser, server, "bureau", TEST_PASSWORD)
    await page.goto(f"{server}/admin/policies")
    assert await page.input_value("#deposit_basis_points") == "5"
    assert await page.is_checked("input[name='eligible_grades.3']")
    assert not await page.is_checked("input[name='eligible_grades.2']")
    starts = clock.today() + timedelta(days=30)
    await page.fill("#effective_from", starts.isoformat())
    await page.fill("#deposit_basis_points", "100.001")
    await page.uncheck("input[name='eligible_grades.3']")
    await page.uncheck("input[name='eligible_grades.4']")
    await page.uncheck("input[name='eligible_grades.5']")
    await page.check("input[name='care_optional.B03']")
    await page.fill("#note", "2027年调整保证金比例")
    await page.click("text=保存新版本")
    await page.wait_for_selector("#deposit_basis_points-error")
    assert "0到100之间的百分数" in await page.inner_text("#deposit_basis_points-error")
    assert "至少选一个" in await page.inner_text("#eligible_grades-error")
    assert await page.input_value("#deposit_basis_points") == "100.001"  # kept to correct
    assert await page.is_checked("input[name='care_optional.B03']")
    await page.screenshot(path=str(tmp_path / "policy-errors.png"), full_page=True)

    await page.fill("#deposit_basis_points", "7.5")
    for grade in (3, 4, 5):
        await page.check(f"input[name='eligible_grades.{grade}']")
    await flash_after(page, "text=保存新版本", "新的政策版本已保存")
    row = page.locator("tr", has_text="2027年调整保证金比例")
    assert "未生效" in await row.inner_text()
    await row.locator("summary").click()
    shown = await row.inner_text()
    assert "7.5%" in shown and "指/趾甲护理" in shown
