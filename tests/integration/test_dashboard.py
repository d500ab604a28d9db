"""The dashboard and the monthly report over a small seeded case: every stored figure equals
a direct count of the raw rows; a town's clerk sees their town only; the CSV is the table;
the budget form refuses bad and stale input; the report job renders a PDF that says what
the page says."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import TOWN, FrozenClock, user_actor
from support.notice_cases import pdf_text
from support.payout_cases import SCENARIOS, approved, build, computed, reviewer

from ltc import clock, documents
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.dashboard import report, rules, service
from ltc.dashboard.tables import DashboardFigure, MonthlyReport
from ltc.entitlements.tables import Entitlement
from ltc.errors import Conflict, Forbidden, InvalidInput
from ltc.jobs.tables import OutboxMessage
from ltc.payouts.tables import PayoutLine

pytestmark = pytest.mark.anyio

DECEMBER, NOVEMBER = date(2026, 12, 1), date(2026, 11, 1)


@pytest.fixture
async def world(database_url, monkeypatch):
    """张秀英's case filed 20 November 2026, entitled from 1 December; the December batch
    approved on 2 January 2027 and the figures made that day."""
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, DECEMBER, world.staff.clerk)
    await approved(batch, world.staff.clerk, await reviewer())
    await service.refresh("370983")
    return world


async def _figure(figure: str, month: date, key: str = "", town: str = "") -> dict | None:
    return await DashboardFigure.select().where(
        (DashboardFigure.figure == figure) & (DashboardFigure.month == month)
        & (DashboardFigure.key == key) & (DashboardFigure.town_code == town)).first()


async def test_the_figures_equal_a_direct_count_of_the_rows(world) -> None:
    lines = await PayoutLine.select(PayoutLine.net_fen, PayoutLine.person).where(
        PayoutLine.benefit == "family_subsidy")
    for town in ("", TOWN):
        spend = await _figure("spend", DECEMBER, "family_subsidy", town)
        assert spend["value"] == sum(r["net_fen"] for r in lines) == 45000
        assert spend["n"] == len({r["person"] for r in lines}) == 1
    graded = await Entitlement.select(Entitlement.grade).where(
        Entitlement.starts_on <= date(2026, 12, 31))
    grade = await _figure("grade", DECEMBER, str(graded[0]["grade"]))
    assert grade["n"] == len(graded) == 1
    assert await _figure("grade", NOVEMBER, str(graded[0]["grade"])) is None  # not yet begun
    filed = await Application.count().where(Application.submitted_at.is_not_null())
    assert (await _figure("applications", NOVEMBER))["n"] == filed == 1

    # The cycle: the rules over the case's own dates. It was decided without a notice, so the
    # stages on either side of that gap have no figure but the whole span does.
    app = await Application.select().first()
    assessment = await Assessment.select().first()
    paid = (await PayoutLine.select(PayoutLine.batch.approved_at).first())["batch.approved_at"]
    day = lambda moment: moment.astimezone(clock.CHINA).date()  # noqa: E731
    expected = rules.stage_days({
        "submitted": day(app["submitted_at"]), "accepted": day(app["accepted_at"]),
        "assessed": day(assessment["onsite_ended_at"]),
        "concluded": day(assessment["concluded_at"]), "noticed": None, "paid": day(paid)},
        clock.working_calendar())
    assert set(expected) == {"accepted", "assessed", "concluded", "total"}
    for stage, days in expected.items():
        row = await _figure("cycle", NOVEMBER, stage, TOWN)
        assert (row["n"], row["value"], row["value2"]) == (1, days, days)
    assert await _figure("cycle", NOVEMBER, "noticed") is None
    # Two assessors sat on the one concluded assessment: one assessment each.
    assessors = await DashboardFigure.select().where(DashboardFigure.figure == "assessor")
    assert sorted(r["key"] for r in assessors) == sorted(
        str(u) for u in (assessment["assessor_1"], assessment["assessor_2"]))
    assert all(r["n"] == 1 for r in assessors)


async def test_a_refresh_replaces_the_figures_and_sees_new_rows(world) -> None:
    # Approving the batch queued a refresh, so the money shows the same day.
    queued = await OutboxMessage.select(OutboxMessage.args).where(
        OutboxMessage.actor_name == "dashboard.refresh")
    assert len(queued) == 1 and "batch-" in queued[0]["args"]
    before = await DashboardFigure.count()
    await service.refresh("370983")
    assert await DashboardFigure.count() == before  # replaced, not added to
    await Entitlement.update({Entitlement.ends_on: date(2026, 12, 20)}).where(
        Entitlement.id == world.entitlement_id)
    await service.refresh("370983")
    assert await _figure("grade", DECEMBER, str(world.case.grade)) is None


async def test_pages_scope_and_csv(client, world) -> None:
    await make_user("clerk", username="towns_clerk", region=TOWN)
    await sign_in(client, "towns_clerk")
    page = await client.get("/dashboard?month=2026-12")
    assert page.status_code == 200
    text = page.text
    assert "数据看板：新城街道" in text and "¥450.00" in text
    assert 'name="town"' not in text  # a town's clerk cannot choose another town
    assert "立即更新数据" not in text and "保存预算" not in text
    # A town code in the query does not widen the scope.
    assert "数据看板：新城街道" in (await client.get("/dashboard?town=370983002")).text

    answer = await client.get("/dashboard/export.csv?section=benefits&month=2026-12")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows == [["待遇类型", "支付人数", "支出金额"], ["居家护理补贴", "1", "¥450.00"]]
    assert (await client.get("/dashboard/export.csv?section=nothing")).status_code == 404
    bad_month = await client.get("/dashboard?month=2020-13")
    assert bad_month.status_code == 200 and "不在近12个月内或无法识别" in bad_month.text

    await make_user("provider", username="carer_dash")
    await client.post("/logout", data={"_csrf_token": await csrf_token(client, "/")})
    await sign_in(client, "carer_dash")
    assert (await client.get("/dashboard")).status_code == 403


async def test_a_town_clerk_neither_lists_nor_downloads_the_regions_report(client, world) -> None:
    """The monthly report lists every town's spend: a town's clerk is refused it."""
    made = await report.render(world.staff.reviewer, "370983", DECEMBER)
    await make_user("clerk", username="towns_clerk", region=TOWN)
    await sign_in(client, "towns_clerk")
    page = (await client.get("/dashboard?month=2026-12")).text
    assert "月度运行报告" not in page and "report.pdf" not in page
    answer = await client.get(f"/dashboard/reports/{made['id']}/report.pdf")
    assert answer.status_code == 403 and "乡镇经办人员不能查看" in answer.text
    assert not await AuditEvent.exists().where(
        AuditEvent.action == "dashboard.report_downloaded")
    # The region's clerk still has it.
    await client.post("/logout", data={"_csrf_token": await csrf_token(client, "/")})
    await make_user("clerk", username="region_clerk", region="370983")
    await sign_in(client, "region_clerk")
    assert f"/dashboard/reports/{made['id']}/report.pdf" in (await client.get("/dashboard")).text
    assert (await client.get(f"/dashboard/reports/{made['id']}/report.pdf")).status_code == 200


async def test_the_budget_is_the_admins_checked_and_compared_with(client, world) -> None:
    admin = await user_actor((await make_user("admin", username="boss"))["id"])
    with pytest.raises(Forbidden):
        await service.set_budget(world.staff.clerk, "370983", 2026, 100, None)
    with pytest.raises(InvalidInput) as refused:
        await service.set_budget(admin, "370983001", 1999, 0, None)
    assert set(refused.value.fields) == {"year", "amount", "region"}
    await service.set_budget(admin, "370983", 2026, 360_000, None)  # 300 元 a month
    with pytest.raises(Conflict):
        await service.set_budget(admin, "370983", 2026, 480_000, None)  # the form was stale
    assert (await service.budget_of("370983", 2026))["amount_fen"] == 360_000
    assert await AuditEvent.exists().where(AuditEvent.action == "dashboard.budget_set")

    await sign_in(client, "boss")
    page = (await client.get("/dashboard?month=2026-12")).text
    assert "¥300.00" in page and "超出" in page  # 450 元 paid against 300 a month
    # The form shows every problem next to its field, and keeps what was typed.
    answer = await client.post("/dashboard/budget", data={
        "_csrf_token": await csrf_token(client, "/dashboard"), "region": "370983",
        "year": "20x6", "amount": "很多", "version": "1"})
    assert answer.status_code == 422
    assert "请填写年份" in answer.text and "请填写大于零的预算金额" in answer.text
    assert 'value="很多"' in answer.text

    # A town's spend is not held against the whole region's budget ÷ 12.
    await client.post("/logout", data={"_csrf_token": await csrf_token(client, "/")})
    await make_user("clerk", username="towns_clerk", region=TOWN)
    await sign_in(client, "towns_clerk")
    town_page = (await client.get("/dashboard?month=2026-12")).text
    assert "¥450.00" in town_page
    assert "¥300.00" not in town_page and "超出" not in town_page and "月均预算" not in town_page
    assert "年度基金预算是全统筹区的" in town_page
    answer = await client.get("/dashboard/export.csv?section=spend&month=2026-12")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["月份", "支出", "本年累计"]


async def test_the_monthly_job_renders_the_report(world, monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2027, 1, 2) + timedelta(days=0))
    [made] = await report.monthly(date(2027, 1, 1))
    row = await MonthlyReport.select().where(MonthlyReport.id == made["id"]).first()
    assert row["month"] == DECEMBER and row["pooling_code"] == "370983"
    text = pdf_text(documents.path_for(row["sha256"]))
    flat = "".join(text.split())
    assert "长护险月度运行情况（2026年12月）" in flat
    assert "居家护理补贴" in flat and "¥450.00" in flat
    assert "申请→受理" in flat
    assert await AuditEvent.exists().where(AuditEvent.action == "dashboard.report_rendered")
    # On demand again: the same row, the newest file.
    again = await report.render(world.staff.reviewer, "370983", DECEMBER)
    assert again["id"] == made["id"] and await MonthlyReport.count() == 1
