"""一次性告知 in a real browser: a blank intake form is not stopped by the browser at its
first empty field; the server answers with every problem at once, each beside its field."""

import pytest
from conftest import TEST_PASSWORD, make_user, sign_in_page

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_a_blank_intake_form_lists_every_problem_beside_its_field(server, browser
                                                                      ) -> None:
    await make_user("clerk")
    clerk = await sign_in_page(browser, server, "clerk", TEST_PASSWORD)
    await clerk.goto(f"{server}/applications/new")
    async with clerk.expect_navigation():  # no browser bubble holds the form back
        await clerk.click("button:has-text('保存申请')")
    for field in ("resident_id", "name", "applicant_name", "applicant_phone",
                  "disabled_since"):
        beside = clerk.locator(f"#{field}[aria-invalid=true] + .field-error")
        assert (await beside.inner_text()).startswith("请"), field
