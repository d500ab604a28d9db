"""Visit logging in a real browser: a provider's nurse on a phone-sized screen (390×844)
logs a visit from the month's list of visits due, checking in with the phone's position
and the family signing on the screen's signature pad; a second visit, confirmed with the
household PIN, misses a required item, is flagged, and a reviewer rejects it in the review
queue with a reason, which the nurse then sees."""

from datetime import timedelta

import pytest
from conftest import TEST_PASSWORD, sign_in_page
from integration.test_visits import HOME, NEAR_HOME, PIN, REQUIRED, care_world
from support.browser import accept_dialogs, flash_after
from support.cases import FrozenClock, entitled_case, make_staff

from ltc import clock
from ltc.agreements.tables import Agreement
from ltc.visits.tables import Visit

pytestmark = [pytest.mark.anyio, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


async def _phone_page(browser, server: str, username: str):
    """Signed in, then a phone's screen, with the position near the home allowed."""
    page = await sign_in_page(browser, server, username, TEST_PASSWORD)
    await page.set_viewport_size(PHONE)
    await page.context.grant_permissions(["geolocation"], origin=server)
    await page.context.set_geolocation({"latitude": NEAR_HOME[0], "longitude": NEAR_HOME[1]})
    return page


async def _fill_visit(page, day, items: list[str]) -> None:
    await page.fill("#started_at", f"{day:%Y-%m-%d}T09:00")
    await page.fill("#ended_at", f"{day:%Y-%m-%d}T09:50")
    for code in items:
        await page.click(f"label[for=item-{code}]")  # the whole row is the touch target
    await page.fill("#family_confirmed_by", "李明")


async def _sign(page) -> None:
    """The family member writes on the signature pad (a stroke of the pointer)."""
    pad = page.locator("canvas[data-signature-pad]")
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box["width"] > 300 and box["height"] >= 150  # room to sign with a finger
    await page.mouse.move(box["x"] + 40, box["y"] + 120)
    await page.mouse.down()
    for step in range(1, 12):
        await page.mouse.move(box["x"] + 40 + step * 20, box["y"] + 120 - (step % 3) * 25)
    await page.mouse.up()


async def test_a_nurse_logs_visits_on_a_phone_and_a_reviewer_rejects_a_flagged_one(
        server, browser, monkeypatch) -> None:
    # The case was decided 40 days ago (in this process only: the server keeps real time),
    # so the benefit and the plan began at least a week before yesterday.
    today = clock.today()
    FrozenClock(monkeypatch, today - timedelta(days=40))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=clock.today())
    starts_on = (clock.today().replace(day=1) + timedelta(days=32)).replace(day=1)
    world = await care_world(staff, case, entitlement_id, plan_from=starts_on,
                             agreements=(today - timedelta(days=365),
                                         today + timedelta(days=365)))
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)

    # The nurse opens the month's visits due on the phone and starts a visit for 张秀英.
    nurse = await _phone_page(browser, server, "nurse")
    await accept_dialogs(nurse)
    await nurse.click("nav >> text=服务记录")
    await nurse.click("text=登记张秀英的服务")
    await nurse.wait_for_selector("h1 >> text=登记上门服务：张秀英")
    row = await nurse.locator("label[for=item-B01]").bounding_box()
    assert row["height"] >= 44 and row["width"] > 300  # a big touch target, full width
    assert await nurse.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await nurse.locator("label[for=item-B01] .tag.required").count() == 1
    await nurse.click("text=获取签到位置（可选）")
    await nurse.wait_for_selector("text=已获取当前位置")
    await _fill_visit(nurse, yesterday, REQUIRED)
    # Neither a signature nor the PIN: refused, saying where the PIN comes from.
    await nurse.click("text=保存服务记录")
    await nurse.wait_for_selector("text=请由家属在手机上签名，或填写家属的6位家庭确认码")
    assert await Visit.count() == 0
    await _sign(nurse)
    assert await nurse.inner_text("[data-signature-status]") == "已签名"
    await nurse.click("text=清除签名，重新签")  # a clear button starts again
    assert await nurse.input_value("input[name=signature_png]") == ""
    await _sign(nurse)
    signature = await nurse.input_value("input[name=signature_png]")
    assert signature.startswith("iVBORw0KGgo")  # PNG, Base64
    assert await nurse.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await flash_after(nurse, "text=保存服务记录", "服务记录已保存")
    main = await nurse.inner_text("main")
    assert "自动通过" in main and "家属已签名" in main
    logged = await Visit.select().where(Visit.visit_on == yesterday).first()
    assert logged["signature_sha256"] and logged["confirmation_code"] == ""
    assert logged["review"] == "accepted" and logged["staff"] is not None
    assert abs(logged["checkin_latitude"] - NEAR_HOME[0]) < 1e-5
    assert (logged["checkin_latitude"], logged["checkin_longitude"]) != HOME

    # A second visit without 安全护理 (a required item) is flagged for review.
    await nurse.click("nav >> text=服务记录")
    await nurse.click("text=登记张秀英的服务")
    await _fill_visit(nurse, before, [code for code in REQUIRED if code != "B21"])
    await nurse.fill("#confirmation_code", PIN)  # the PIN from the care-plan letter
    await flash_after(nurse, "text=保存服务记录", "服务记录已保存")
    detail = await nurse.inner_text("main")
    assert "待审核" in detail and "必做项目未完成" in detail and "安全护理（B21）" in detail
    flagged = await Visit.select().where(Visit.visit_on == before).first()
    assert flagged["review"] == "flagged"

    # The reviewer finds it in the queue with its reason, and rejects it with a reason.
    reviewer = await sign_in_page(browser, server, "reviewer", TEST_PASSWORD)
    await accept_dialogs(reviewer)
    await reviewer.click("nav >> text=服务记录审核")
    card = reviewer.locator(f"#visit-{flagged['id']}")
    assert "安全护理（B21）" in await card.inner_text()
    await card.locator("button[value=reject]").click()  # no reason yet: refused
    await reviewer.wait_for_selector("text=请填写审核意见")
    assert (await Visit.select().where(Visit.id == flagged["id"]).first())["review"] == (
        "flagged")
    await reviewer.locator(f"#visit-{flagged['id']} textarea").fill(
        "电话回访家属：当天未做安全护理，不予支付")
    await flash_after(reviewer, f"#visit-{flagged['id']} button[value=reject]", "已审核不通过")
    assert "没有待审核的服务记录" in await reviewer.inner_text("main")
    done = await Visit.select().where(Visit.id == flagged["id"]).first()
    assert done["review"] == "rejected" and "不予支付" in done["review_reason"]

    # The nurse sees the decision and its reason; the accepted visit still counts.
    await nurse.goto(f"{server}/visits/{flagged['id']}")
    shown = await nurse.inner_text("main")
    assert "审核不通过" in shown and "不予支付" in shown and "更正这条记录" not in shown
    await nurse.click("nav >> text=服务记录")
    done_this_month = 1 if yesterday.month == today.month else 0
    assert f"已完成 {done_this_month} 次" in await nurse.inner_text("main")

    # The care-plan pages fit the phone too: the plan with its letter, and the form for a
    # new version (long item names and options wrap instead of pushing the page sideways).
    for path in (f"/care-plans/{world.plan_id}", f"/care-plans/new?entitlement={entitlement_id}",
                 "/care-plans"):
        await nurse.goto(f"{server}{path}")
        assert await nurse.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    await nurse.goto(f"{server}/care-plans/{world.plan_id}")
    assert "护理计划告知书" in await nurse.inner_text("main")
    # The clerk's form has the selects; a caregiver agreement makes a long option.
    await Agreement(number="XYCG0001", kind="caregiver", region_path="370983",
                    beneficiary=case.person_id, caregiver_name="欧阳建华",
                    caregiver_resident_id="370983197501010017", caregiver_phone="13800000000",
                    relationship="儿子", bank_name="肥城农商银行",
                    bank_account="6228480012345678", starts_on=today - timedelta(days=30),
                    ends_on=today + timedelta(days=700), state="ACTIVE").save()
    clerk = await _phone_page(browser, server, "clerk")
    for path in (f"/care-plans/new?entitlement={entitlement_id}", f"/care-plans/{world.plan_id}"):
        await clerk.goto(f"{server}{path}")
        assert await clerk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    assert "重新出具告知书" in await clerk.inner_text("main")
