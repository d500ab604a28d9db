"""Field pages fit a phone: an assessor and a provider of the demo county walk every page
they can reach — their navigation, and the pages the lists link to (an assessment, a visit,
a care plan, a statement list, a spot-check, a confirmation…) — on a 390 × 844 screen, in
normal type and in 大字 mode, and no page is wider than the screen."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import PG_URL, free_port, sign_in_page
from support.demo import start_demo, stop_demo

pytestmark = [pytest.mark.anyio, pytest.mark.browser,
              pytest.mark.skipif(bool(PG_URL), reason="ltc demo runs on SQLite only")]

PHONE = {"width": 390, "height": 844}
# Not pages: files, and what signs out or changes state when followed.
SKIP = re.compile(r"\.(pdf|csv|mp4|mov|webm|jpg|png)$|/logout|/download|/export|/media/")
# Per role, the same page for different records is one page; a few of each suffice.
PER_PATTERN = 2
MOST_PAGES = 80


@pytest.fixture(scope="module")
def demo(demo_var_dir: Path):
    """(base URL, {username: password}) of a running demo county."""
    port = free_port()
    process, logins = start_demo(demo_var_dir, port)
    try:
        yield f"http://127.0.0.1:{port}", {user: password for _, user, password in logins}
    finally:
        stop_demo(process)


async def _phone_page(browser, server: str, username: str, password: str, large: bool):
    """A phone-sized browser signed in as `username`, in 大字 mode when `large` (the switch
    the 大字 button flips, remembered on the device)."""
    return await sign_in_page(
        browser, server, username, password,
        init_script="localStorage.setItem('ltc-large-font', '1')" if large else None,
        viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)


def _pattern(path: str) -> str:
    return re.sub(r"/\d+", "/N", path)


async def _links(page, server: str) -> list[str]:
    hrefs = await page.eval_on_selector_all(
        "header a[href], main a[href]", "els => els.map(e => e.href)")
    paths = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != server or SKIP.search(parts.path):
            continue
        paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


async def _too_wide(page, server: str) -> dict[str, int]:
    """Every page reachable from the workbench (breadth first, a few of each kind): the
    ones wider than the screen, with their width."""
    seen_patterns: dict[str, int] = {}
    queue, visited, wide = ["/"], set(), {}
    while queue and len(visited) < MOST_PAGES:
        path = queue.pop(0)
        pattern = _pattern(urlsplit(path).path)
        if path in visited or seen_patterns.get(pattern, 0) >= PER_PATTERN:
            continue
        visited.add(path)
        seen_patterns[pattern] = seen_patterns.get(pattern, 0) + 1
        response = await page.goto(server + path)
        assert response is not None and response.status < 500, path
        if response.status >= 400:
            continue
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[path] = width
        queue.extend(p for p in await _links(page, server) if p not in visited)
    assert len(visited) >= 5, visited  # the walk found the role's pages
    return wide


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large-type"])
@pytest.mark.parametrize("username", ["expert", "checker", "provider"])
async def test_every_field_page_fits_a_phone(demo, browser, username: str, large: bool
                                             ) -> None:
    server, passwords = demo
    page = await _phone_page(browser, server, username, passwords[username], large)
    assert await _too_wide(page, server) == {}


async def test_the_provider_statements_and_the_header_on_a_phone(demo, browser) -> None:
    """The statements read as cards, one statement each, every figure labelled; the header
    in 大字 mode leaves most of the screen to the page."""
    server, passwords = demo
    page = await _phone_page(browser, server, "provider", passwords["provider"], large=True)
    await page.goto(f"{server}/provider/statements")
    labels = await page.eval_on_selector_all(
        "main table tbody tr:first-child td",
        "cells => cells.map(c => getComputedStyle(c, '::before').content)")
    assert '"批次号"' in labels and '"结算净额"' in labels  # each figure says what it is
    number = await page.locator("main tbody tr >> nth=0 >> td >> nth=0").bounding_box()
    net = await page.locator("main tbody tr >> nth=0 >> td >> nth=6").bounding_box()
    assert number and net and net["y"] > number["y"]  # one under the other, as a card
    header = await page.locator("header.site").bounding_box()
    assert header is not None and header["height"] < PHONE["height"] / 5
