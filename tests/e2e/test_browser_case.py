"""A case from application to concluded assessment, in a real browser, across the clerk, the
two drawn assessors (one uploads the visit video) and the reviewer."""

from datetime import timedelta

import pytest
from conftest import SEVERE_SCORES as SCORES
from conftest import TEST_PASSWORD, make_user, sign_in_page
from stdnum.cn.ric import calc_check_digit
from support.browser import accept_dialogs, record_and_sign, sign_and_submit

from ltc import clock
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.enrollment.tables import EnrollmentRecord
from ltc.evidence.tables import EvidenceFile

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

def resident_id(body: str) -> str:
    return body + calc_check_digit(body + "0")  # stdnum ignores the last character


async def test_application_to_concluded_assessment(server, browser, tmp_path) -> None:
    await make_user("clerk", username="wang")
    await make_user("assessor", username="li", organisation="AO-370983-01")
    await make_user("assessor", username="zhou", organisation="AO-370983-02")
    await make_user("reviewer", username="zhao")
    person_id = resident_id("37098319420315002")
    await EnrollmentRecord(resident_id=person_id, insurance_number="37098300001", name="张秀英",
                           scheme="resident", region_code="370983", status="enrolled",
                           start_date=clock.today().replace(year=2015),
                           source="test").save()

    # The clerk registers the person and the application, submits, accepts and assigns.
    clerk = await sign_in_page(browser, server, "wang", TEST_PASSWORD)
    await accept_dialogs(clerk)
    await clerk.click("text=申请受理")
    await clerk.click("text=登记新申请")
    await clerk.fill("#resident_id", person_id)
    await clerk.fill("#name", "张秀英")
    await clerk.fill("#phone", "13800000001")
    await clerk.select_option("#village", index=1)
    await clerk.fill("#address", "某村3号")
    await clerk.fill("#applicant_name", "李明")
    await clerk.select_option("#applicant_relation", "子女")
    await clerk.fill("#applicant_phone", "13900000002")
    since = clock.today() - timedelta(days=400)
    await clerk.fill("#disabled_since", since.isoformat())
    for box in await clerk.query_selector_all("input[name=materials]"):
        value = await box.get_attribute("value")
        if "agent" not in value:
            await box.check()
    await clerk.click("text=保存申请（草稿）")
    await clerk.wait_for_selector("text=已登记")
    await clerk.click("button[value=submit]")
    await clerk.wait_for_selector("text=申请已提交")
    await clerk.click("button[value=accept]")
    await clerk.wait_for_selector("text=申请已受理")
    await clerk.click("button[value=assign]")
    await clerk.wait_for_selector("text=已随机分派两名评估员")
    application = await Application.select().first()
    assert application["state"] == "ASSIGNED"
    assessment = await Assessment.select().first()
    case_url = clerk.url

    # The first assessor records all 17 items on site, uploads the video and signs.
    first = await sign_in_page(browser, server, "li", TEST_PASSWORD)
    await accept_dialogs(first)
    await first.click("text=我的评估任务")
    await first.click("table a.button")
    await record_and_sign(first, SCORES, tmp_path / "上门评估.mp4", "重度失能Ⅲ级")

    # The second assessor signs and submits.
    second = await sign_in_page(browser, server, "zhou", TEST_PASSWORD)
    await accept_dialogs(second)
    await sign_and_submit(second, server, assessment["id"])

    # The reviewer sees it in the queue, plays the video, and concludes.
    reviewer = await sign_in_page(browser, server, "zhao", TEST_PASSWORD)
    await accept_dialogs(reviewer)
    await reviewer.click("text=评估审核")
    await reviewer.click("table a.button")
    video_link = await reviewer.get_attribute(".evidence-list a", "href")
    played = await reviewer.request.get(f"{server}{video_link}",
                                        headers={"Range": "bytes=0-15"})
    assert played.status == 206 and (await played.body())[4:8] == b"ftyp"
    await reviewer.click("text=确认评估结论")
    await reviewer.wait_for_selector("text=评估结论：重度失能Ⅲ级")

    # The clerk's case page shows the outcome and the whole timeline.
    await clerk.goto(case_url)
    text = await clerk.inner_text("main")
    assert "已确认" in text and "重度失能Ⅲ级" in text
    for step in ("登记申请", "受理申请", "分派评估员", "上传评估影像", "评估员签名", "提交评估",
                 "查看评估影像", "确认评估结论"):
        assert step in text, step
    row = await Assessment.select().where(Assessment.id == assessment["id"]).first()
    assert row["state"] == "CONCLUDED" and row["grade"] == 5
    assert await EvidenceFile.count() == 1
