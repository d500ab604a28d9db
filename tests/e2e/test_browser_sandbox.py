"""The policy sandbox in a real browser on a phone-sized screen: a reviewer chooses a draft
with a higher family subsidy and last month, starts the run (the replay job is run here, as
the worker would), and the page shows the difference by itself."""

from datetime import UTC, timedelta

import pytest
from conftest import TEST_PASSWORD, make_user, sign_in_page
from integration.test_visits import care_world
from support.cases import FrozenClock, entitled_case, make_staff, user_actor

from ltc import clock
from ltc.agreements.tables import Agreement
from ltc.payouts import sandbox, service
from ltc.payouts.tables import SandboxRun
from ltc.policy import service as policies
from ltc.policy.rules import policy_as_json

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_a_draft_subsidy_replayed_over_last_month(server, browser, monkeypatch) -> None:
    # Last month (the server keeps real time): 张秀英 entitled from its first day with a
    # family caregiver, and its batch computed. Only this process's clock is moved.
    real_now = clock.now()
    month = clock.previous_month(clock.month_first(clock.today()))
    before = clock.previous_month(month)
    frozen = FrozenClock(monkeypatch, before + timedelta(days=19))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=before + timedelta(days=25))
    frozen.set(month + timedelta(days=14))
    await care_world(staff, case, entitlement_id, plan_from=month,
                             agreements=(month - timedelta(days=365),
                                         month + timedelta(days=730)))
    await Agreement(number="XYCGSANDBOX", kind="caregiver", region_path="370983",
                    beneficiary=case.person_id, caregiver_name="李明",
                    caregiver_resident_id="370983195001010012", caregiver_phone="13800000000",
                    relationship="子女", bank_name="农业银行", bank_account="6228480000000000001",
                    starts_on=month - timedelta(days=30), ends_on=month + timedelta(days=730),
                    state="ACTIVE").save()
    frozen.moment = real_now.astimezone(UTC)
    batch = await service.create_batch(staff.clerk, "370983", month)
    await service.compute(batch["id"])
    admin = await user_actor((await make_user("admin", "admin"))["id"])
    in_force = await policies.policy_in_force("370983", clock.today())
    await policies.add_version(admin, "370983", clock.today() + timedelta(days=10),
                               {**policy_as_json(in_force.policy), "family_subsidy_fen": 60000},
                               note="补贴提高到600元")

    reviewer = await sign_in_page(browser, server, "reviewer", TEST_PASSWORD,
                                  viewport={"width": 390, "height": 844})
    await reviewer.goto(f"{server}/policy/sandbox")
    await reviewer.select_option("#policy_version", label=(
        await reviewer.locator("#policy_version option", has_text="草案").first.inner_text()))
    await reviewer.fill("#month", f"{month:%Y-%m}")
    async with reviewer.expect_navigation():
        await reviewer.click("button:has-text('开始试算')")
    assert "正在试算" in await reviewer.inner_text("#computing")
    await sandbox.replay((await SandboxRun.select(SandboxRun.id).first())["id"])

    # The page shows the difference by itself (nobody reloads it).
    await reviewer.wait_for_selector("#by-benefit", timeout=90_000)
    by_benefit = await reviewer.inner_text("#by-benefit")
    assert "家庭护理补贴" in by_benefit and "¥150.00" in by_benefit
    people = await reviewer.inner_text("#people")
    assert "张秀英" in people and "金额变化" in people
    width = await reviewer.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "no sideways scrolling on a phone"
