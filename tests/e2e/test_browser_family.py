"""The family portal in a real browser on a phone (390×844): the household opens the link of
the care-plan letter's QR code, types the PIN, disputes a visit the nurse logged (it goes to
the reviewer's queue), and sees that an assessor watched the assessment video."""

import hashlib
import os
from datetime import datetime, time, timedelta

import pytest
from integration.test_visits import PIN, REQUIRED, care_world, log, visit
from support.browser import flash_after
from support.cases import FrozenClock, entitled_case, make_staff, user_actor

from ltc import clock
from ltc.careplans import interface as careplans
from ltc.evidence import rules as evidence_rules
from ltc.evidence import service as evidence
from ltc.evidence.tables import EvidenceFile
from ltc.settings import Settings
from ltc.visits.tables import Visit

pytestmark = [pytest.mark.anyio, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("LTC_SHOTS")  # a directory: the pages as the family saw them


async def _shot(page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/family-{name}.png", full_page=True)


async def test_a_family_signs_in_by_the_letter_disputes_a_visit_and_sees_a_video_view(
        server, browser, monkeypatch, tmp_path) -> None:
    # The case was decided 40 days ago (in this process only: the server keeps real time).
    today = clock.today()
    frozen = FrozenClock(monkeypatch, today - timedelta(days=40))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=clock.today())
    starts_on = (clock.today().replace(day=1) + timedelta(days=32)).replace(day=1)
    world = await care_world(staff, case, entitlement_id, plan_from=starts_on,
                             agreements=(today - timedelta(days=365),
                                         today + timedelta(days=365)))
    frozen.set(today)
    yesterday = today - timedelta(days=1)
    started = datetime.combine(yesterday, time(9), clock.CHINA)
    logged = await log(world.nurse, visit(world, started_at=started,
                                          ended_at=started + timedelta(minutes=45),
                                          items=REQUIRED))
    # One of the two assessors watches the assessment video (the view is audited).
    data = b"the assessment video"
    sha = hashlib.sha256(data).hexdigest()
    video = await EvidenceFile.select().where(
        (EvidenceFile.assessment == case.assessment_id) & (EvidenceFile.kind == "video")).first()
    await EvidenceFile.update({EvidenceFile.sha256: sha, EvidenceFile.size: len(data)}).where(
        EvidenceFile.id == video["id"])
    stored = evidence_rules.storage_path(tmp_path / "viewer-media", sha)
    stored.parent.mkdir(parents=True)
    stored.write_bytes(data)
    assessor = await user_actor(case.assessors[0])
    await evidence.open_for_viewing(assessor, video["id"], tmp_path / "viewer-media")

    # The link the letter's QR code holds, signed with the server's secret (conftest.app_env).
    server_settings = Settings.from_env({"LTC_VAR_DIR": str(tmp_path / "var"),
                                         "LTC_SECRET_KEY": "s" * 48, "LTC_PUBLIC_URL": server})
    link = await careplans.family_link(server_settings, case.person_id)
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(link)
    await page.wait_for_selector("text=请输入《护理计划告知书》上印的")
    await page.fill("#pin", "000000")  # a wrong one first
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=今天还可再试4次")
    await page.fill("#pin", PIN)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert page.url.endswith("/family")
    home = await page.inner_text("main")
    assert "新城街道社区卫生服务中心" in home and "办理进度" in home
    await _shot(page, "home")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The visit of yesterday: who, when, how long; disputed with the family's words.
    await page.goto(f"{server}/family/visits?month={yesterday:%Y-%m}")
    card = page.locator(f"#visit-{logged['id']}")
    shown = await card.inner_text()
    assert "王丽" in shown and "45 分钟" in shown and started.strftime("%H:%M") in shown
    target = await card.locator(f"label[for=answer-{logged['id']}-no]").bounding_box()
    assert target["height"] >= 44  # a finger-sized choice
    await card.locator(f"label[for=answer-{logged['id']}-no]").click()
    await card.locator("textarea").fill("昨天没有人上门")
    await flash_after(page, f"#visit-{logged['id']} button[type=submit]", "已收到您的异议")
    assert "已提出异议（昨天没有人上门）" in await page.inner_text(f"#visit-{logged['id']}")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.click("[data-font-toggle]")  # 大字 mode still fits the phone
    assert await page.evaluate("document.documentElement.classList.contains('large-font')")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await _shot(page, "visits-large")
    row = await Visit.select(Visit.review, Visit.flags).where(Visit.id == logged["id"]).first()
    assert row["review"] == "flagged" and "昨天没有人上门" in row["flags"]

    # Who watched the assessment video, and when.
    await page.click("nav.family >> text=评估录像查看记录")
    views = await page.inner_text("main")
    assert assessor.name in views and "评估员" in views
    await _shot(page, "video-views-large")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # A staff page refuses the family.
    await page.goto(f"{server}/visit-review")
    assert "家属只能查看家属服务页面" in await page.inner_text("main")
    await context.close()
