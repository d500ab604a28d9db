"""A resumable evidence upload in Chromium on a phone-sized screen: the assessor picks a video
on the assessment page, the connection fails after a few PATCHes (the route aborts them) and
the browser is closed; reopened with the same profile, the page names the unfinished upload,
the same file is chosen again, and it continues from the server's offset to evidence with the
file's own SHA-256 — one upload, not a second. Then a video "recorded" with the capture input
goes up by itself while a score is entered."""

import hashlib
import random

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, TEST_PASSWORD
from support.evidence_cases import MP4_HEAD, make_case

from ltc.audit.tables import AuditEvent
from ltc.evidence.tables import EvidenceFile

pytestmark = [pytest.mark.anyio, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}
MiB = 1024 * 1024


async def _open(playwright, profile, server: str, assessment_id: int, sign_in: bool):
    context = await playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=PHONE)
    page = context.pages[0] if context.pages else await context.new_page()
    if sign_in:
        await page.goto(f"{server}/login")
        await page.fill("#username", "assessor1")
        await page.fill("#password", TEST_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{server}/")
    await page.goto(f"{server}/assessments/{assessment_id}")
    # Small PATCHes, so that the connection can fail between them in this test.
    await page.eval_on_selector("form[data-evidence-upload]",
                                "f => f.setAttribute('data-chunk-size', String(1024 * 1024))")
    return context, page


async def test_an_upload_resumes_after_the_browser_is_closed_and_reopened(
        server, chromium, tmp_path) -> None:
    from playwright.async_api import async_playwright

    case = await make_case()
    video = tmp_path / "入户评估.mp4"
    body = MP4_HEAD + random.Random(7).randbytes(6 * MiB - len(MP4_HEAD))
    video.write_bytes(body)
    profile = tmp_path / "profile"

    async with async_playwright() as playwright:
        context, page = await _open(playwright, profile, server, case["id"], sign_in=True)
        patches = []

        async def cut_after_three(route):
            if route.request.method != "PATCH":
                await route.continue_()
            elif len(patches) < 3:
                patches.append(route.request.url)
                await route.continue_()
            else:
                await route.abort("connectionreset")

        await page.route("**/api/v1/uploads/**", cut_after_three)
        await page.set_input_files("#evidence-file", str(video))
        await page.click("[data-upload-button]")
        await page.wait_for_selector("[data-upload-pause]:visible")
        await page.wait_for_function(
            "document.querySelector('[data-upload-progress]').value >= 50")
        await context.close()  # the browser goes away mid-upload

        context, page = await _open(playwright, profile, server, case["id"], sign_in=False)
        note = page.locator("[data-upload-unfinished]")
        await note.wait_for()
        assert "入户评估.mp4" in await note.inner_text()
        offsets = []
        page.on("response", lambda r: offsets.append(int(r.headers["upload-offset"]))
                if r.request.method == "HEAD" else None)
        await page.set_input_files("#evidence-file", str(video))
        await page.click("[data-upload-button]")
        await page.wait_for_selector(".evidence-list li >> text=入户评估.mp4")

        # On site: the phone records a video; it starts uploading by itself while the
        # assessor goes on with the 17 items.
        capture = page.locator("#evidence-capture")
        assert await capture.get_attribute("capture") == "environment"
        assert await capture.get_attribute("accept") == "video/*"
        clip = tmp_path / "现场录像.mp4"
        clip.write_bytes(MP4_HEAD + random.Random(8).randbytes(2 * MiB))
        await capture.set_input_files(str(clip))
        score = page.locator("input[type=radio][name^=score_]").first
        await score.check()
        await page.wait_for_selector(".evidence-list li >> text=现场录像.mp4")
        assert await score.is_checked()  # the page never left: the form is as it was
        await context.close()

    assert offsets and offsets[0] == 3 * MiB  # continued from what the server had
    evidence = await EvidenceFile.select().order_by(EvidenceFile.id).first()
    assert evidence["sha256"] == hashlib.sha256(body).hexdigest()
    # One upload for the interrupted file (continued, not begun again), one for the capture.
    assert await AuditEvent.count().where(AuditEvent.action == "evidence.upload_started") == 2
