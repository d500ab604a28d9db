"""The work queues on the demo county, in a real browser: every role's workbench lists what
waits with counts that equal what the linked page lists (and the database holds), the
navigation carries the same counts as badges, and every item's link opens that item.

Set LTC_SHOTS to a directory to keep a full-page picture of each workbench (1280 px)."""

import os
import sqlite3
from pathlib import Path

import pytest
from conftest import PG_URL, sign_in_page
from test_browser_demo import demo  # noqa: F401 - the module's running demo

pytestmark = [pytest.mark.anyio, pytest.mark.browser,
              pytest.mark.skipif(bool(PG_URL), reason="ltc demo runs on SQLite only")]

ROWS = "main table tbody tr:not(:has(td[colspan]))"
# How the linked page shows a queue's items, where it is not one table row each.
SHOWN_AS = {"visits": "main li[id^=visit-]",  # the reviewer's cards
            "spotchecks": "main table tbody tr:has-text('待抽查')",  # also lists past ones
            "return_visits": "main table tbody tr:has-text('待回访')",  # and the draws
            "inspections": "main table tbody tr:has-text('待核实')",  # and the tallies
            "due_visits": "#month-title + ul li.card:has(a:has-text('记录上门服务'))"}
# Queues whose link is a page with more than their rows (a per-town form, the statements of
# every month): their items are followed instead.
NOT_COUNTED = {"to_notice", "statements", "policies"}
# The database's own count, read-only, for the queues of the case workflow.
IN_DATABASE = {
    "submitted": "SELECT COUNT(*) FROM application WHERE state = 'SUBMITTED'",
    "supplement": "SELECT COUNT(*) FROM application WHERE state = 'SUPPLEMENT'",
    "accepted": "SELECT COUNT(*) FROM application WHERE state = 'ACCEPTED'",
    "assessments": "SELECT COUNT(*) FROM assessment WHERE state = 'SUBMITTED'",
    "payouts": "SELECT COUNT(*) FROM payout_batch WHERE state = 'SUBMITTED'",
}
LOGINS = ["clerk", "expert", "checker", "reviewer", "provider", "admin"]

QUEUES_JS = """els => els.map(e => ({
  key: e.dataset.queue, nav: e.dataset.nav || null,
  href: e.querySelector('.queue-head a').getAttribute('href'),
  count: +e.querySelector('.queue-head b.count').textContent,
  items: [...e.querySelectorAll('.queue-items > li > a')].map(
    a => [a.textContent.trim(), a.getAttribute('href')])}))"""
BADGES_JS = """els => els.map(a => [a.getAttribute('href'),
  a.querySelector('.badge') ? [+a.querySelector('.badge').textContent,
                               a.querySelector('.badge').getAttribute('aria-label')] : null])"""


def _count(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute(sql).fetchone()[0]


@pytest.mark.parametrize("username", LOGINS)
async def test_each_queue_counts_what_its_page_lists(demo, browser, username: str  # noqa: F811
                                                     ) -> None:
    server, passwords, database = demo
    page = await sign_in_page(browser, server, username, passwords[username])
    await page.set_viewport_size({"width": 1280, "height": 900})
    if shots := os.environ.get("LTC_SHOTS"):
        await page.screenshot(path=f"{shots}/workbench-{username}.png", full_page=True)
    queues = await page.eval_on_selector_all("li.queue", QUEUES_JS)
    assert queues, await page.inner_text("main")  # every demo login has something waiting
    assert all(q["count"] > 0 for q in queues)

    # The badges: each navigation entry carries the sum of its queues, and only if any.
    expected: dict[str, int] = {}
    for q in queues:
        if q["nav"]:
            expected[q["nav"]] = expected.get(q["nav"], 0) + q["count"]
    shown = {href: badge for href, badge in
             await page.eval_on_selector_all("nav.main a", BADGES_JS) if badge}
    assert {href: n for href, (n, _) in shown.items()} == expected
    assert all(label == f"{n} 项待办" for n, label in shown.values())

    for q in queues:
        if q["key"] in IN_DATABASE:
            assert q["count"] == _count(database, IN_DATABASE[q["key"]]), q
        if q["href"].startswith("/#"):
            await page.goto(f"{server}/")
        else:
            response = await page.goto(server + q["href"])
            assert response.status == 200, q
        if q["key"] not in NOT_COUNTED:
            listed = await page.locator(SHOWN_AS.get(q["key"], ROWS)).count()
            assert listed == q["count"], (q, await page.inner_text("main"))
        text = await page.inner_text("main")
        for label, _ in q["items"]:
            assert label.split(" ")[0] in text, (q, label)
        for label, href in q["items"][:2]:  # each item opens where it is dealt with
            response = await page.goto(server + href)
            assert response.status == 200, (q, href)
            assert label.split(" ")[0] in await page.inner_text("main"), (q, label)
        if q["key"] == "to_notice":  # per town: the concluded cases to post, ticked
            ticked = 0
            for _, href in q["items"]:
                await page.goto(server + href)
                ticked += await page.locator("input[name=assessment_ids]").count()
            assert ticked == q["count"], q
