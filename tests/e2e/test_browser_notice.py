"""From concluded assessments to entitlements, in a real browser: the clerk publishes a
notice; a member of the public reads the masked list and objects to one entry; when the
period is over the scheduler's daily job closes the notice: the untouched case is decided,
the objected one goes to two other assessors, whose reviewed conclusion is final."""

from datetime import timedelta

import pytest
from conftest import SEVERE_SCORES, TEST_PASSWORD, sign_in_page
from support.browser import accept_dialogs, flash_after, record_and_sign, sign_and_submit
from support.cases import TOWN, add_assessors, concluded_case, make_staff

from ltc import clock
from ltc.accounts.tables import User
from ltc.assessments.tables import Assessment
from ltc.entitlements.tables import Decision, Entitlement
from ltc.notices import service as notices
from ltc.notices.tables import NoticeBatch, NoticeEntry

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def test_notice_objection_reassessment_and_entitlements(server, browser,
                                                              tmp_path) -> None:
    staff = await make_staff(assessors=4)
    objected = await concluded_case(staff, name="张秀英")
    untouched = await concluded_case(staff, name="欧阳春华")
    # The re-assessment leaves out the first assessment's organisation (29号): another one.
    await add_assessors(staff, 2, organisation="T-A2")

    # The clerk groups the town's concluded cases into a notice and publishes it.
    clerk = await sign_in_page(browser, server, "clerk", TEST_PASSWORD)
    await accept_dialogs(clerk)
    await clerk.click("nav >> text=公示管理")
    await clerk.click("text=编制新公示")
    async with clerk.expect_navigation():
        await clerk.select_option("#town", TOWN)
    assert await clerk.is_checked(f"#case-{objected.assessment_id}")
    assert await clerk.is_checked(f"#case-{untouched.assessment_id}")
    async with clerk.expect_navigation():
        await clerk.click("text=编制公示（草稿）")
    await flash_after(clerk, "text=发布公示", "公示已发布")
    batch = await NoticeBatch.select().first()
    assert batch["state"] == "PUBLISHED"
    assert batch["ends_on"] == clock.today() + timedelta(days=5)

    # Anyone, without signing in, reads the notice: names masked, no ID numbers.
    public = await (await browser.new_context()).new_page()
    await public.goto(f"{server}/notices")
    await public.click(f"text={batch['number']}")
    listing = await public.inner_text("table")
    assert "张**" in listing and "欧阳**" in listing
    assert "张秀英" not in listing and "欧阳春华" not in listing
    assert objected.resident_id not in await public.content()
    entry = await NoticeEntry.select().where(
        NoticeEntry.assessment == objected.assessment_id).first()
    await public.select_option("#entry", str(entry["id"]))
    await public.fill("#objector_name", "李建国")
    await public.fill("#objector_phone", "13612345678")
    await public.select_option("#relation", "邻居")
    await public.fill("#reason", "她每天自己下地干活、赶集，生活完全能自理，评估结论与实际不符。")
    await flash_after(public, "text=提交异议", "您的异议已提交")

    # The period ends (moved into the past here); the scheduler's daily job closes it.
    await NoticeBatch.update({
        NoticeBatch.published_on: batch["published_on"] - timedelta(days=6),
        NoticeBatch.starts_on: batch["starts_on"] - timedelta(days=6),
        NoticeBatch.ends_on: batch["ends_on"] - timedelta(days=6)}).where(
        NoticeBatch.id == batch["id"])
    await notices.close_due(clock.today())  # what the daily notices.close_due job runs
    assert (await NoticeBatch.select().first())["state"] == "CLOSED"
    decided = await Decision.select().where(
        Decision.application == untouched.application_id).first()
    assert decided["eligible"] and decided["basis"] == "no_objection"

    # Two assessors who did not assess the first time re-assess, and the reviewer concludes.
    again = await Assessment.select().where(
        (Assessment.application == objected.application_id)
        & (Assessment.kind == "reassessment")).first()
    pair = {again["assessor_1"], again["assessor_2"]}
    assert pair.isdisjoint(objected.assessors) and len(pair) == 2
    first = await sign_in_page(browser, server, await _username(again["assessor_1"]),
                               TEST_PASSWORD)
    await accept_dialogs(first)
    await first.click("text=我的评估任务")
    await first.click("table a.button")
    await record_and_sign(first, SEVERE_SCORES, tmp_path / "重新评估.mp4", "重度失能Ⅲ级")
    second = await sign_in_page(browser, server, await _username(again["assessor_2"]),
                                TEST_PASSWORD)
    await accept_dialogs(second)
    await sign_and_submit(second, server, again["id"])
    reviewer = await sign_in_page(browser, server, "reviewer", TEST_PASSWORD)
    await accept_dialogs(reviewer)
    await reviewer.goto(f"{server}/assessments/{again['id']}")
    await reviewer.click("text=确认评估结论")
    await reviewer.wait_for_selector("text=评估结论：")

    # Both now hold entitlements from the first day of next month; the clerk sees them.
    await clerk.click("nav >> text=待遇资格")
    listing = await clerk.inner_text("table")
    assert "张秀英" in listing and "欧阳春华" in listing
    assert listing.count("享受待遇") == 2
    first_of_next_month = (clock.today().replace(day=1) + timedelta(days=32)).replace(day=1)
    for person_id in (objected.person_id, untouched.person_id):
        held = await Entitlement.select().where(Entitlement.person == person_id).first()
        assert held["starts_on"] == first_of_next_month
    final = await Decision.select().where(
        Decision.application == objected.application_id).first()
    assert final["basis"] == "reassessment" and final["assessment"] == again["id"]

    # The person page tells the whole story in one timeline.
    await clerk.goto(f"{server}/people/{objected.person_id}")
    story = await clerk.inner_text("main")
    for step in ("确认评估结论", "收到异议", "因异议分派重新评估", "作出待遇核定",
                 "待遇资格生效"):
        assert step in story, step


async def _username(user_id: int) -> str:
    return (await User.select(User.username).where(User.id == user_id).first())["username"]
