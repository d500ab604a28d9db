"""The case on one page: where a case stands through its notice, an objection, the
re-assessment and the decision, and its timeline in that order."""

from __future__ import annotations

import re

import pytest
from conftest import sign_in
from support.cases import MODERATE_SCORES, complete_assessment
from support.notice_cases import (
    CLOSING_DAY,
    entry_of,
    objection,
    published,
    world_fixture,  # noqa: F401  (the fixture, by name)
)

from ltc.identity import PUBLIC
from ltc.notices import service

pytestmark = pytest.mark.anyio


def _text(html: str, section: str) -> str:
    """The words of one section of the page (by its id or class), tags stripped."""
    found = re.search(rf'<section class="card[^"]*"[^>]*{section}.*?</section>', html, re.S)
    assert found is not None, section
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found[0]))


async def test_the_case_page_follows_the_case_through_notice_objection_and_decision(
        world, client) -> None:
    w = world
    await sign_in(client, "clerk")
    page = f"/applications/{w.zhang.application_id}"
    await published(w)
    stage = _text((await client.get(page)).text, "stage-title")
    assert "公示中" in stage and "2026-11-27 前可提出异议" in stage

    entry = await entry_of(w.zhang)
    await service.record_objection(PUBLIC, entry["id"], **objection())
    stage = _text((await client.get(page)).text, "stage-title")
    assert "已收到异议 1 件" in stage and "重新评估" in stage

    w.clock.set(CLOSING_DAY)
    await service.close_due(CLOSING_DAY)
    await sign_in(client, "clerk")  # the session has expired in the days that passed
    html = (await client.get(page)).text
    stage = _text(html, "stage-title")
    assert "复评中" in stage and "期限 2026-12-11" in stage
    assert 'aria-current="step"><span>异议/复评' in html
    # The other case had no objection: decided, the objection step passed over.
    other = (await client.get(f"/applications/{w.ouyang.application_id}")).text
    assert "已办结，核定享受待遇" in _text(other, "stage-title")
    assert "异议/复评（无异议）" in other

    again = (await entry_of(w.zhang))["reassessment"]
    await complete_assessment(w.staff, again, MODERATE_SCORES)
    html = (await client.get(page)).text
    assert "已办结，核定不予享受待遇（中度失能）" in _text(html, "stage-title")
    assert "有异议，重新评估" in _text(html, 'id="notice"')
    assert "不予享受待遇" in _text(html, 'id="decision"')
    timeline = _text(html, "timeline-title")
    steps = ["发布公示", "收到异议", "公示期满", "因异议分派重新评估", "确认评估结论",
             "作出待遇核定"]
    at = 0
    for step in steps:  # each after the one before
        at = timeline.find(step, at)
        assert at != -1, (step, timeline)
