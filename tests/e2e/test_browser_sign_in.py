"""A person signs in with a real browser (Debian's Chromium) against the real server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import TEST_PASSWORD, make_user, unavailable

from ltc import db

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(database_url: str, tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "LTC_DATABASE_URL": database_url, "LTC_VAR_DIR": str(tmp_path / "var"),
           "LTC_SECRET_KEY": "s" * 48, "LTC_DATABASE_POOL_SIZE": "2"}
    env["LTC_BROKER_URL"] = (f"sqlite:///{tmp_path / 'queue.sqlite3'}" if db.is_sqlite()
                             else os.environ.get("LTC_TEST_BROKER_URL") or "redis://127.0.0.1:6379/15")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "ltc.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"server did not start: {process.stdout.read()}")
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


async def test_a_reviewer_signs_in_and_sees_their_home_page(server: str, chromium: str) -> None:
    from playwright.async_api import async_playwright

    await make_user("reviewer", username="zhao")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(f"{server}/")
        assert "/login" in page.url  # not signed in yet: sent to the login page
        await page.fill("#username", "zhao")
        await page.fill("#password", "wrong-password-1")
        await page.click("button[type=submit]")
        assert "用户名或密码错误" in await page.inner_text("main")
        await page.fill("#password", TEST_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{server}/")
        assert await page.inner_text("h1") == "审核员工作台"
        assert "审核员" in await page.inner_text("header")
        # The large-font switch works and is remembered across pages.
        await page.click("[data-font-toggle]")
        await page.reload()
        assert await page.evaluate(
            "document.documentElement.classList.contains('large-font')")
        await page.click("text=退出登录")
        await page.wait_for_url(f"{server}/login")
        await browser.close()
