"""The admin issues a partner's token on a phone in 大字 mode: the scopes are chosen with
checkboxes, none chosen is refused beside the choice, and the list shows what each token may
call; the page is no wider than the screen."""

import pytest
from conftest import TEST_PASSWORD, make_user, sign_in_page

from ltc.accounts.tables import ApiToken

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}


async def test_admin_chooses_a_partner_tokens_scope_on_a_phone(server, browser) -> None:
    await make_user("admin", username="boss")
    admin = await sign_in_page(browser, server, "boss", TEST_PASSWORD,
                               init_script="localStorage.setItem('ltc-large-font', '1')",
                               viewport=PHONE, is_mobile=True, has_touch=True)
    await admin.goto(f"{server}/admin/tokens")
    await admin.fill("#name", "商业保险经办")
    await admin.fill("#region", "370983")
    for scope in ("role.api", "enrolment.events"):  # ticked by default: what tokens had
        await admin.uncheck(f"input[name='scope.{scope}']")
    async with admin.expect_navigation():
        await admin.click("button:has-text('创建令牌')")
    assert "请至少选择一项权限范围" in await admin.inner_text("#scopes-error")
    assert await ApiToken.count() == 0

    await admin.check("input[name='scope.partner.read']")
    async with admin.expect_navigation():
        await admin.click("button:has-text('创建令牌')")
    assert (await admin.inner_text("[role=status] .secret >> nth=0")).startswith("ltc_")
    row = admin.locator("tr:has-text('商业保险经办')")
    assert "查询参保人状态、待遇和护理计划（合作方）" in await row.inner_text()
    assert await admin.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert (await ApiToken.select(ApiToken.scopes).first())["scopes"] == "partner.read"
