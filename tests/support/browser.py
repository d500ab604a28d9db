"""Browser steps shared by the end-to-end tests: what an assessor, a reviewer or anyone
clicking a form does, written once."""

from __future__ import annotations

from datetime import timedelta

from ltc import clock
from support.media_files import FTYP, MDAT, moov, mvhd


def tiny_mp4(path, minutes: int) -> None:
    """Enough of an MP4 for the type check and its duration: `ftyp`, media, `moov/mvhd`."""
    path.write_bytes(FTYP + MDAT + moov(mvhd(1000, minutes * 60_000)))


async def flash_after(page, button: str, message: str) -> None:
    """Click a form button, wait for the page it leads to, and expect its flash message; if
    the page refused instead, fail with what it said."""
    async with page.expect_navigation(wait_until="load", timeout=60_000):
        await page.click(button)
    flashes = await page.inner_text("main")
    assert message in flashes, flashes[:800]


async def accept_dialogs(page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


async def record_and_sign(page, scores: dict[str, int], video_path, grade_label: str) -> None:
    """On an open assessment form: all 17 items (the live preview shows `grade_label`), the
    on-site times and the guardian present, saved; the visit video uploaded; signed."""
    for code, score in scores.items():
        await page.check(f"input[name=score_{code}][value='{score}']")
    await page.wait_for_selector(f"text={grade_label}")
    yesterday = clock.now().astimezone(clock.CHINA) - timedelta(days=1)
    await page.fill("#onsite_started_at", yesterday.strftime("%Y-%m-%dT09:00"))
    await page.fill("#onsite_ended_at", yesterday.strftime("%Y-%m-%dT10:20"))
    await page.fill("#guardian_name", "李明")
    await page.select_option("#guardian_relationship", "子女")
    await page.fill("#guardian_phone", "139 0000 0000")
    await flash_after(page, "button[value=save]", "已保存草稿")
    tiny_mp4(video_path, minutes=70)  # 80 minutes on site: 64 needed
    await page.set_input_files("#evidence-file", str(video_path))
    await page.click("[data-upload-button]")
    await page.wait_for_selector(f".evidence-list li >> text={video_path.name}")
    await page.wait_for_selector(".evidence-list li >> text=时长 1小时10分00秒")
    await flash_after(page, "button[value=sign]", "已签名")


async def sign_and_submit(page, server: str, assessment_id: int) -> None:
    await page.goto(f"{server}/assessments/{assessment_id}")
    await flash_after(page, "button[value=sign]", "已签名")
    await flash_after(page, "button[value=submit]", "已提交审核")
